"""Validation of custom resources against their CRD's structural schema.

The causes and messages are the real API server's, so a test sees the same 422.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kubesim.schema import TypeSchema

__all__ = ["META_KEYS", "invalid_message", "validate"]

# --- validation (CRD structural schemas) ----------------------------------------------------

META_KEYS = ("apiVersion", "kind", "metadata")
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
            if root and key in META_KEYS:
                continue
            if schema.embedded_resource and key in META_KEYS:
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


