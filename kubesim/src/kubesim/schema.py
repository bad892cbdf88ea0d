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
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "DEDUCED",
    "NO_DEFAULT",
    "OBJECT_META",
    "TypeSchema",
    "builtin_schema",
    "builtin_type",
    "schema_from_openapi",
    "zero_object",
]

NO_DEFAULT: Any = object()  # a schema node without a default
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
    default: Any = NO_DEFAULT
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
        return self.default is not NO_DEFAULT

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
