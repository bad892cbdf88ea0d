"""Structural schemas for kubesim: the shape server-side apply, validation,
defaulting and pruning need.

Built-in kinds come from a committed table derived from the real OpenAPI v3
documents (see ``gen_builtin_schema.py``); CRD versions are converted from
their ``openAPIV3Schema``. A kind without a schema is "deduced": maps are
granular and lists atomic, which is what the real server does for unknown
structure.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "DEDUCED",
    "OBJECT_META",
    "TypeSchema",
    "apply_defaults",
    "builtin_defaults",
    "builtin_schema",
    "builtin_type",
    "invalid_message",
    "prune_unknown",
    "schema_from_openapi",
    "unknown_fields",
    "validate",
    "zero_object",
]

_NO_DEFAULT: Any = object()
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_TABLE_FILE = "builtin_types.json"


@dataclass(eq=False)
class TypeSchema:
    """One node of a structural schema.

    ``type`` is the OpenAPI type ("object", "array", "string", "integer",
    "number", "boolean") or "" when unknown/untyped. ``properties`` are the
    named fields of a struct; ``additional_properties`` the value type of a
    map. Lists carry ``list_type`` (atomic|set|map) and ``list_map_keys``;
    maps carry ``map_type`` (granular|atomic).
    """

    type: str = ""
    properties: dict[str, TypeSchema] = field(default_factory=dict)
    additional_properties: TypeSchema | None = None
    items: TypeSchema | None = None
    list_type: str = "atomic"
    list_map_keys: tuple[str, ...] = ()
    map_type: str = "granular"
    preserve_unknown_fields: bool = False
    int_or_string: bool = False
    embedded_resource: bool = False
    default: Any = _NO_DEFAULT
    enum: tuple[Any, ...] | None = None
    required: tuple[str, ...] = ()
    nullable: bool = False
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    min_items: int | None = None
    max_items: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    has_rules: bool = False  # x-kubernetes-validations (CEL) present here

    @property
    def has_default(self) -> bool:
        """Whether the schema declares a default value."""
        return self.default is not _NO_DEFAULT

    @property
    def deduced(self) -> bool:
        """True when nothing is known about the structure (shape follows the value)."""
        return (
            self.type == ""
            and not self.int_or_string
            and not self.properties
            and self.additional_properties is None
            and self.items is None
        )

    def is_map(self) -> bool:
        """Whether values of this type are objects (structs or maps)."""
        return self.type == "object" or (
            self.type == "" and (bool(self.properties) or self.additional_properties is not None)
        )

    def is_list(self) -> bool:
        """Whether values of this type are arrays."""
        return self.type == "array" or (self.type == "" and self.items is not None)

    def field(self, name: str) -> tuple[TypeSchema, bool]:
        """The schema of map key ``name`` and whether it is a named (struct) field."""
        prop = self.properties.get(name)
        if prop is not None:
            return prop, True
        if self.additional_properties is not None:
            return self.additional_properties, False
        return DEDUCED, False

    def element(self) -> TypeSchema:
        """The schema of list items."""
        return self.items if self.items is not None else DEDUCED


DEDUCED = TypeSchema()


# --- built-in table -------------------------------------------------------------------------


@cache
def _table() -> dict[str, Any]:
    text = resources.files("kubesim").joinpath("data", _TABLE_FILE).read_text("utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


class _TableBuilder:
    """Turns compact table entries into TypeSchema graphs (recursive types share nodes)."""

    def __init__(self, types: dict[str, Any]) -> None:
        self._types = types
        self._named: dict[str, TypeSchema] = {}

    def named(self, name: str) -> TypeSchema:
        existing = self._named.get(name)
        if existing is not None:
            return existing
        node = TypeSchema()
        self._named[name] = node
        raw = self._types.get(name)
        if raw is not None:
            self._fill(node, raw)
        return node

    def node(self, raw: dict[str, Any]) -> TypeSchema:
        ref = raw.get("$")
        if ref is not None:
            target = self.named(ref)
            if "d" not in raw:
                return target
            # A field with its own default on a shared type: shallow copy keeps children shared.
            clone = copy.copy(target)
            clone.default = raw["d"]
            return clone
        node = TypeSchema()
        self._fill(node, raw)
        return node

    def _fill(self, node: TypeSchema, raw: dict[str, Any]) -> None:
        node.type = raw.get("t", "")
        node.properties = {k: self.node(v) for k, v in raw.get("p", {}).items()}
        if "a" in raw:
            node.additional_properties = self.node(raw["a"])
        if "i" in raw:
            node.items = self.node(raw["i"])
        node.list_type = raw.get("lt", "atomic")
        node.list_map_keys = tuple(raw.get("lk", ()))
        node.map_type = raw.get("mt", "granular")
        node.preserve_unknown_fields = bool(raw.get("u", False))
        node.int_or_string = bool(raw.get("ios", False))
        if "d" in raw:
            node.default = raw["d"]
        if "e" in raw:
            node.enum = tuple(raw["e"])


@cache
def _builder() -> _TableBuilder:
    return _TableBuilder(_table()["types"])


def builtin_type(name: str) -> TypeSchema:
    """A named built-in type from the table (e.g. ``OBJECT_META``)."""
    return _builder().named(name)


def builtin_schema(group: str, version: str, kind: str) -> TypeSchema | None:
    """The schema of a built-in kind, or None when the table does not know it."""
    api_version = f"{group}/{version}" if group else version
    name = _table()["kinds"].get(f"{api_version}/{kind}")
    return builtin_type(name) if name is not None else None


# --- CRD schemas ----------------------------------------------------------------------------


def schema_from_openapi(openapi_v3_schema: dict[str, Any]) -> TypeSchema:
    """Convert a CRD version's ``openAPIV3Schema`` into a TypeSchema.

    As on the real server, ``metadata`` at the root (and in embedded resources)
    is the full ObjectMeta type, so labels/annotations/finalizers/ownerReferences
    merge the way they do for built-in kinds.
    """
    root = _from_openapi(openapi_v3_schema)
    _attach_object_meta(root)
    return root


def _attach_object_meta(node: TypeSchema) -> None:
    node.properties["metadata"] = builtin_type(OBJECT_META)
    node.properties.setdefault("apiVersion", TypeSchema(type="string"))
    node.properties.setdefault("kind", TypeSchema(type="string"))


def _from_openapi(raw: dict[str, Any]) -> TypeSchema:
    node = TypeSchema(type=str(raw.get("type", "")))
    for key in ("allOf", "anyOf", "oneOf"):
        # Structural schemas may only repeat constraints here; fold in the nested shape.
        for part in raw.get(key, []) or []:
            if isinstance(part, dict) and not node.type and part.get("type"):
                node.type = str(part["type"])
    props = raw.get("properties") or {}
    node.properties = {k: _from_openapi(v) for k, v in props.items() if isinstance(v, dict)}
    extra = raw.get("additionalProperties")
    if isinstance(extra, dict):
        node.additional_properties = _from_openapi(extra)
    elif extra is True:
        node.additional_properties = DEDUCED
    items = raw.get("items")
    if isinstance(items, dict):
        node.items = _from_openapi(items)
    node.list_type = str(raw.get("x-kubernetes-list-type", "atomic"))
    node.list_map_keys = tuple(raw.get("x-kubernetes-list-map-keys", ()) or ())
    node.map_type = str(raw.get("x-kubernetes-map-type", "granular"))
    node.preserve_unknown_fields = bool(raw.get("x-kubernetes-preserve-unknown-fields", False))
    node.int_or_string = bool(raw.get("x-kubernetes-int-or-string", False))
    node.embedded_resource = bool(raw.get("x-kubernetes-embedded-resource", False))
    if "default" in raw:
        node.default = raw["default"]
    if isinstance(raw.get("enum"), list):
        node.enum = tuple(raw["enum"])
    node.required = tuple(raw.get("required", ()) or ())
    node.nullable = bool(raw.get("nullable", False))
    node.pattern = raw.get("pattern")
    node.minimum = raw.get("minimum")
    node.maximum = raw.get("maximum")
    node.exclusive_minimum = bool(raw.get("exclusiveMinimum", False))
    node.exclusive_maximum = bool(raw.get("exclusiveMaximum", False))
    node.min_items = raw.get("minItems")
    node.max_items = raw.get("maxItems")
    node.min_length = raw.get("minLength")
    node.max_length = raw.get("maxLength")
    node.has_rules = bool(raw.get("x-kubernetes-validations"))
    if node.embedded_resource:
        _attach_object_meta(node)
    return node


def zero_object(schema: TypeSchema | None) -> dict[str, Any]:
    """The "empty" object the real server compares a create against.

    Go structs serialise their non-pointer struct fields even when empty; the
    OpenAPI marks those with ``default: {}``. Whether a created container shows
    up as owned (``"."``) in managedFields depends on it.
    """
    if schema is None:
        return {}
    return _zero(schema, depth=0)


def _zero(schema: TypeSchema, *, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if depth > 12:
        return out
    for name, prop in schema.properties.items():
        if prop.has_default and prop.default == {} and prop.is_map():
            out[name] = _zero(prop, depth=depth + 1)
    return out


# --- validation (CRD structural schemas) ----------------------------------------------------

_META_KEYS = ("apiVersion", "kind", "metadata")
_CEL_SKIPPED = (
    "Invalid value: null: some validation rules were not checked because the object was "
    "invalid; correct the existing errors to complete validation"
)


def validate(obj: dict[str, Any], schema: TypeSchema) -> list[dict[str, str]]:
    """Check ``obj`` against a CRD schema; return Status causes like the real server.

    Each cause is ``{"reason": "FieldValueNotSupported", "message": ..., "field": ...}``
    (the wire name of StatusCause.Type is ``reason``). CEL rules are not evaluated;
    when the schema has any and something else failed, the server's "some validation
    rules were not checked" cause is appended, as a real apiserver does.
    """
    causes: list[dict[str, str]] = []
    rules = [False]
    _validate(obj, schema, "", causes, rules, root=True)
    if causes and rules[0]:
        causes.append({"reason": "FieldValueInvalid", "message": _CEL_SKIPPED, "field": "<nil>"})
    return causes


def invalid_message(qualified_kind: str, name: str, causes: list[dict[str, str]]) -> str:
    """The ``message`` of a 422 Invalid Status, e.g. ``Foo.example.com "x" is invalid: ...``."""
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return f'{qualified_kind} "{name}" is invalid: {joined}'


def _render(value: Any) -> str:
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return json.dumps(value, ensure_ascii=False)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, schema: TypeSchema) -> bool:
    if schema.int_or_string:
        return _json_type(value) in ("integer", "string")
    want, got = schema.type, _json_type(value)
    if not want:
        return True
    if want == "number":
        return got in ("number", "integer")
    return want == got


def _cause(reason: str, message: str, path: str) -> dict[str, str]:
    return {"reason": reason, "message": message, "field": path or "<nil>"}


def _validate(
    value: Any,
    schema: TypeSchema,
    path: str,
    causes: list[dict[str, str]],
    rules: list[bool],
    *,
    root: bool = False,
) -> None:
    if schema.has_rules:
        rules[0] = True
    if value is None:
        if not schema.nullable and schema.type:
            causes.append(
                _cause(
                    "FieldValueTypeInvalid",
                    f'Invalid value: "null": {path} in body must be of type {schema.type}: "null"',
                    path,
                )
            )
        return
    if not _type_ok(value, schema):
        got = _json_type(value)
        want = "integer,string" if schema.int_or_string else schema.type
        causes.append(
            _cause(
                "FieldValueTypeInvalid",
                f'Invalid value: "{got}": {path} in body must be of type {want}: "{got}"',
                path,
            )
        )
        return
    _validate_scalar(value, schema, path, causes)
    if isinstance(value, dict):
        for name in schema.required:
            if name not in value:
                child = f"{path}.{name}" if path else name
                causes.append(_cause("FieldValueRequired", "Required value", child))
        for key, item in value.items():
            if root and key in _META_KEYS:
                continue
            if schema.embedded_resource and key in _META_KEYS:
                continue
            sub = schema.properties.get(key) or schema.additional_properties
            if sub is None:
                continue  # unknown fields are pruned, not rejected
            child = f"{path}.{key}" if path else key
            _validate(item, sub, child, causes, rules)
    elif isinstance(value, list):
        _validate_list(value, schema, path, causes, rules)


def _validate_list(
    value: list[Any],
    schema: TypeSchema,
    path: str,
    causes: list[dict[str, str]],
    rules: list[bool],
) -> None:
    if schema.max_items is not None and len(value) > schema.max_items:
        causes.append(
            _cause(
                "FieldValueTooMany",
                f"Too many: {len(value)}: must have at most {schema.max_items} items",
                path,
            )
        )
    if schema.min_items is not None and len(value) < schema.min_items:
        causes.append(
            _cause(
                "FieldValueInvalid",
                f"Invalid value: {len(value)}: {path} in body should have at least "
                f"{schema.min_items} items",
                path,
            )
        )
    _validate_unique(value, schema, path, causes)
    if schema.items is not None:
        for i, item in enumerate(value):
            _validate(item, schema.items, f"{path}[{i}]", causes, rules)


def _go_map(keys: dict[str, Any]) -> str:
    body = ", ".join(f"{json.dumps(k)}:{_render(v)}" for k, v in keys.items())
    return f"map[string]interface {{}}{{{body}}}"


def _validate_unique(
    value: list[Any], schema: TypeSchema, path: str, causes: list[dict[str, str]]
) -> None:
    """Set items and list-map keys must be unique (FieldValueDuplicate)."""
    if schema.list_type not in ("set", "map"):
        return
    seen: set[str] = set()
    for i, item in enumerate(value):
        if schema.list_type == "set":
            key, shown = json.dumps(item, sort_keys=True), _render(item)
        elif isinstance(item, dict):
            keys = {k: item[k] for k in schema.list_map_keys if k in item}
            key, shown = json.dumps(keys, sort_keys=True), _go_map(keys)
        else:
            continue
        if key in seen:
            causes.append(
                _cause("FieldValueDuplicate", f"Duplicate value: {shown}", f"{path}[{i}]")
            )
        seen.add(key)


def _validate_scalar(
    value: Any, schema: TypeSchema, path: str, causes: list[dict[str, str]]
) -> None:
    if schema.enum is not None and value not in schema.enum:
        allowed = ", ".join(_render(v) for v in schema.enum)
        causes.append(
            _cause(
                "FieldValueNotSupported",
                f"Unsupported value: {_render(value)}: supported values: {allowed}",
                path,
            )
        )
    if isinstance(value, str):
        _validate_string(value, schema, path, causes)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(value, schema, path, causes)


def _validate_string(
    value: str, schema: TypeSchema, path: str, causes: list[dict[str, str]]
) -> None:
    if schema.pattern is not None and re.search(schema.pattern, value) is None:
        causes.append(
            _cause(
                "FieldValueInvalid",
                f"Invalid value: {_render(value)}: {path} in body should match '{schema.pattern}'",
                path,
            )
        )
    if schema.max_length is not None and len(value) > schema.max_length:
        causes.append(
            _cause(
                "FieldValueTooLong",
                f"Too long: may not be more than {schema.max_length} bytes",
                path,
            )
        )
    if schema.min_length is not None and len(value) < schema.min_length:
        causes.append(
            _cause(
                "FieldValueInvalid",
                f"Invalid value: {_render(value)}: {path} in body should be at least "
                f"{schema.min_length} chars long",
                path,
            )
        )


def _validate_number(
    value: float, schema: TypeSchema, path: str, causes: list[dict[str, str]]
) -> None:
    if schema.minimum is not None:
        low = schema.minimum
        if value < low or (schema.exclusive_minimum and value == low):
            word = "greater than" if schema.exclusive_minimum else "greater than or equal to"
            causes.append(
                _cause(
                    "FieldValueInvalid",
                    f"Invalid value: {_render(value)}: {path} in body should be {word} "
                    f"{_render(low)}",
                    path,
                )
            )
    if schema.maximum is not None:
        high = schema.maximum
        if value > high or (schema.exclusive_maximum and value == high):
            word = "less than" if schema.exclusive_maximum else "less than or equal to"
            causes.append(
                _cause(
                    "FieldValueInvalid",
                    f"Invalid value: {_render(value)}: {path} in body should be {word} "
                    f"{_render(high)}",
                    path,
                )
            )


# --- defaulting and pruning (CRD structural semantics) ---------------------------------------


def apply_defaults(obj: dict[str, Any], schema: TypeSchema) -> dict[str, Any]:
    """Return a copy of ``obj`` with schema defaults filled in.

    A default applies when its field is absent (or null and not nullable) and the
    parent object exists; defaulted values are themselves defaulted.
    """
    out = copy.deepcopy(obj)
    _default(out, schema, root=True)
    return out


def _default(value: Any, schema: TypeSchema, *, root: bool = False) -> None:
    if isinstance(value, dict):
        for name, prop in schema.properties.items():
            if root and name == "metadata":
                continue
            current = value.get(name, _NO_DEFAULT)
            if current is _NO_DEFAULT or (current is None and not prop.nullable):
                if prop.has_default:
                    value[name] = copy.deepcopy(prop.default)
                elif current is None:
                    del value[name]  # a null the schema cannot hold is dropped
        for key, item in value.items():
            if root and key == "metadata":
                continue
            sub = schema.properties.get(key) or schema.additional_properties
            if sub is not None:
                _default(item, sub)
    elif isinstance(value, list) and schema.items is not None:
        for item in value:
            _default(item, schema.items)


def prune_unknown(obj: dict[str, Any], schema: TypeSchema) -> dict[str, Any]:
    """Return a copy of ``obj`` without fields the structural schema does not declare.

    ``x-kubernetes-preserve-unknown-fields`` keeps them; apiVersion, kind and
    metadata of the object (and of embedded resources) are never pruned.
    """
    result = _prune(copy.deepcopy(obj), schema, root=True)
    return result if isinstance(result, dict) else {}


def unknown_fields(obj: dict[str, Any], schema: TypeSchema) -> list[str]:
    """Paths (``spec.foo``) that :func:`prune_unknown` would drop, for "unknown field" warnings."""
    out: list[str] = []
    _unknown(obj, schema, "", out, root=True)
    return out


def _unknown(value: Any, schema: TypeSchema, path: str, out: list[str], *, root: bool) -> None:
    if isinstance(value, dict):
        keep_meta = root or schema.embedded_resource
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if keep_meta and key in _META_KEYS:
                continue
            sub = schema.properties.get(key) or schema.additional_properties
            if sub is None:
                if not (schema.preserve_unknown_fields or schema.deduced):
                    out.append(child)
                continue
            _unknown(item, sub, child, out, root=False)
    elif isinstance(value, list) and schema.items is not None:
        for i, item in enumerate(value):
            _unknown(item, schema.items, f"{path}[{i}]", out, root=False)


def _prune(value: Any, schema: TypeSchema, *, root: bool = False) -> Any:
    if isinstance(value, dict):
        keep_meta = root or schema.embedded_resource
        out: dict[str, Any] = {}
        for key, item in value.items():
            if keep_meta and key in _META_KEYS:
                out[key] = item
                continue
            sub = schema.properties.get(key) or schema.additional_properties
            if sub is None:
                if schema.preserve_unknown_fields or schema.deduced:
                    out[key] = item
                continue
            out[key] = _prune(item, sub)
        return out
    if isinstance(value, list):
        if schema.items is None:
            return value
        return [_prune(item, schema.items) for item in value]
    return value


# --- built-in defaults (what the real server's defaulting code adds) ---------------------------


def builtin_defaults(group: str, version: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of a built-in object with the server-side defaults the recordings show.

    Covers Service, Pod and pod templates (Deployment, DaemonSet, StatefulSet,
    ReplicaSet), Namespace, Secret, RBAC subjects, webhook configurations and
    CRDs. Cluster IP allocation is left to the caller.
    """
    out = copy.deepcopy(obj)
    spec = out.get("spec")
    key = (group, kind)
    if key == ("", "Service") and isinstance(spec, dict):
        _service_defaults(spec)
    elif key == ("", "Pod") and isinstance(spec, dict):
        _pod_spec_defaults(spec)
    elif key == ("apps", "DaemonSet") and isinstance(spec, dict):
        spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        strategy = spec["updateStrategy"]
        if isinstance(strategy, dict) and strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", 1)
                rolling.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        _template_defaults(spec)
    elif key == ("apps", "Deployment") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("strategy", {"type": "RollingUpdate"})
        strategy = spec["strategy"]
        if isinstance(strategy, dict) and strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        _template_defaults(spec)
    elif key in (("apps", "StatefulSet"), ("apps", "ReplicaSet")) and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        if kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault(
                "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
            )
        _template_defaults(spec)
    elif key == ("", "Namespace"):
        out.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        out.setdefault("status", {}).setdefault("phase", "Active")
    elif key == ("", "Secret"):
        out.setdefault("type", "Opaque")
    elif group == "rbac.authorization.k8s.io" and kind in ("RoleBinding", "ClusterRoleBinding"):
        for subject in out.get("subjects") or []:
            if isinstance(subject, dict) and "apiGroup" not in subject:
                rbac = subject.get("kind") in ("User", "Group")
                subject["apiGroup"] = "rbac.authorization.k8s.io" if rbac else ""
    elif group == "admissionregistration.k8s.io" and kind.endswith("WebhookConfiguration"):
        for hook in out.get("webhooks") or []:
            if isinstance(hook, dict):
                _webhook_defaults(hook, mutating=kind.startswith("Mutating"))
    elif key == ("apiextensions.k8s.io", "CustomResourceDefinition") and isinstance(spec, dict):
        spec.setdefault("conversion", {"strategy": "None"})
        names = spec.get("names")
        if isinstance(names, dict) and isinstance(names.get("kind"), str):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
    return out


def _service_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])


def _template_defaults(spec: dict[str, Any]) -> None:
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        _pod_spec_defaults(template["spec"])


def _pod_spec_defaults(spec: dict[str, Any]) -> None:
    for name in ("containers", "initContainers"):
        for container in spec.get(name) or []:
            if isinstance(container, dict):
                _container_defaults(container)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        for source in ("configMap", "secret", "projected", "downwardAPI"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)
        if isinstance(volume.get("hostPath"), dict):
            volume["hostPath"].setdefault("type", "")


def _container_defaults(container: dict[str, Any]) -> None:
    image = str(container.get("image", ""))
    tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
    latest = image.endswith(":latest") or not tagged
    container.setdefault("resources", {})
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in container.get("env") or []:
        source = env.get("valueFrom") if isinstance(env, dict) else None
        if isinstance(source, dict) and isinstance(source.get("fieldRef"), dict):
            source["fieldRef"].setdefault("apiVersion", "v1")
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_name)
        if isinstance(probe, dict):
            probe.setdefault("timeoutSeconds", 1)
            probe.setdefault("periodSeconds", 10)
            probe.setdefault("successThreshold", 1)
            probe.setdefault("failureThreshold", 3)
            if isinstance(probe.get("httpGet"), dict):
                probe["httpGet"].setdefault("scheme", "HTTP")


def _webhook_defaults(hook: dict[str, Any], *, mutating: bool) -> None:
    hook.setdefault("failurePolicy", "Fail")
    hook.setdefault("matchPolicy", "Equivalent")
    hook.setdefault("namespaceSelector", {})
    hook.setdefault("objectSelector", {})
    hook.setdefault("timeoutSeconds", 10)
    if mutating:
        hook.setdefault("reinvocationPolicy", "Never")
    for rule in hook.get("rules") or []:
        if isinstance(rule, dict):
            rule.setdefault("scope", "*")
    config = hook.get("clientConfig")
    if isinstance(config, dict) and isinstance(config.get("service"), dict):
        config["service"].setdefault("port", 443)
