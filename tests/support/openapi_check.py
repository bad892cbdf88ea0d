"""A small validator of built-in Kubernetes objects against the API server's OpenAPI v3.

It checks what a strict API server would reject in a hand-written manifest:
unknown fields, wrong types, missing required fields and enum values. Formats
and CEL rules are out of scope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Schema = dict[str, Any]


def _doc_file(api_version: str) -> str:
    if "/" not in api_version:
        return f"api_{api_version}.json"
    group, version = api_version.split("/", 1)
    return f"apis_{group}_{version}.json"


@dataclass
class OpenAPI:
    """The OpenAPI v3 documents in ``root`` (one file per group-version)."""

    root: Path
    _docs: dict[str, dict[str, Schema]] = field(default_factory=dict)

    def schemas(self, api_version: str) -> dict[str, Schema]:
        name = _doc_file(api_version)
        if name not in self._docs:
            path = self.root / name
            if not path.is_file():
                raise LookupError(f"no OpenAPI document {name} for {api_version}")
            self._docs[name] = json.loads(path.read_text())["components"]["schemas"]
        return self._docs[name]

    def validate(self, obj: dict[str, Any]) -> list[str]:
        """Problems found in ``obj`` (empty = valid), each naming the field path."""
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        schemas = self.schemas(api_version)
        group, _, version = api_version.rpartition("/")
        for schema in schemas.values():
            for gvk in schema.get("x-kubernetes-group-version-kind", []):
                if (gvk.get("group", ""), gvk["version"], gvk["kind"]) == (group, version, kind):
                    errors: list[str] = []
                    _check(obj, schema, schemas, kind, errors)
                    return errors
        raise LookupError(f"no schema for {api_version} {kind}")


def _resolve(schema: Schema, schemas: dict[str, Schema]) -> Schema:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _type_ok(value: Any, typ: str) -> bool:
    if isinstance(value, bool) and typ in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[typ])


def _check(value: Any, schema: Schema, schemas: dict[str, Schema], path: str,
           errors: list[str]) -> None:
    schema = _resolve(schema, schemas)
    for part in schema.get("allOf", []):
        _check(value, part, schemas, path, errors)
    if "oneOf" in schema:
        if not any(_type_ok(value, _resolve(s, schemas).get("type", "object"))
                   for s in schema["oneOf"]):
            errors.append(f"{path}: {value!r} matches none of the allowed types")
        return
    typ = schema.get("type")
    if typ is None:
        return
    if not _type_ok(value, typ):
        errors.append(f"{path}: expected {typ}, got {type(value).__name__}")
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not one of {schema['enum']}")
    if typ == "array":
        for i, item in enumerate(value):
            _check(item, schema.get("items", {}), schemas, f"{path}[{i}]", errors)
    elif typ == "object":
        props: dict[str, Schema] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing required field {key!r}")
        for key, item in value.items():
            if key in props:
                _check(item, props[key], schemas, f"{path}.{key}", errors)
            elif isinstance(extra, dict):
                _check(item, extra, schemas, f"{path}.{key}", errors)
            elif props and not extra:
                errors.append(f"{path}: unknown field {key!r}")
