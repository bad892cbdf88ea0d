"""Defaulting and pruning of custom resources by their CRD's structural schema."""

from __future__ import annotations

import copy
from typing import Any

from kubesim.crd_validation import META_KEYS
from kubesim.schema import NO_DEFAULT, TypeSchema

__all__ = ["apply_defaults", "prune_unknown", "unknown_fields"]

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
            current = value.get(name, NO_DEFAULT)
            if current is NO_DEFAULT or (current is None and not prop.nullable):
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
            if keep_meta and key in META_KEYS:
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
            if keep_meta and key in META_KEYS:
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
