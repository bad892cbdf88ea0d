"""CRD schemas: conversion, validation causes, defaulting and pruning."""

from __future__ import annotations

from typing import Any

from kubesim.crd_defaults import apply_defaults, prune_unknown, unknown_fields
from kubesim.crd_validation import invalid_message, validate
from kubesim.schema import schema_from_openapi

OPENAPI: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "spec": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5, "minLength": 1},
                "mode": {"type": "string", "enum": ["A", "B"], "default": "A"},
                "count": {"type": "integer", "minimum": 1, "maximum": 3},
                "ratio": {"type": "number"},
                "port": {"x-kubernetes-int-or-string": True},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "maxItems": 2,
                    "x-kubernetes-list-type": "set",
                },
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {"level": {"type": "string", "default": "low"}},
                },
                "opt": {
                    "type": "object",
                    "properties": {"inner": {"type": "string", "default": "x"}},
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "maybe": {"type": "string", "nullable": True},
                "rules": {"type": "string", "x-kubernetes-validations": [{"rule": "true"}]},
                "items": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "weight": {"type": "integer", "default": 1},
                        },
                    },
                },
                "embedded": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                },
            },
        },
        "status": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
    },
}
SCHEMA = schema_from_openapi(OPENAPI)


def obj(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "n"},
        "spec": {"name": "ok", **spec},
    }


def reasons(causes: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["reason"], c["field"]) for c in causes]


def test_conversion_keeps_ssa_semantics_and_object_meta() -> None:
    spec = SCHEMA.properties["spec"]
    assert spec.properties["tags"].list_type == "set"
    assert spec.properties["items"].list_map_keys == ("name",)
    assert spec.properties["port"].int_or_string
    assert spec.properties["free"].preserve_unknown_fields
    meta = SCHEMA.properties["metadata"]
    assert meta.properties["finalizers"].list_type == "set"
    embedded = spec.properties["embedded"]
    assert "metadata" in embedded.properties


def test_valid_object_has_no_causes() -> None:
    assert validate(obj(mode="B", count=2, port="http", tags=["a"], maybe=None), SCHEMA) == []
    assert validate(obj(port=8080, ratio=1), SCHEMA) == []


def test_enum_violation_wording() -> None:
    causes = validate(obj(mode="C"), SCHEMA)
    assert causes[0] == {
        "reason": "FieldValueNotSupported",
        "message": 'Unsupported value: "C": supported values: "A", "B"',
        "field": "spec.mode",
    }


def test_required_type_and_bounds() -> None:
    bad = {"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "n"}, "spec": {"count": "2"}}
    assert reasons(validate(bad, SCHEMA)) == [
        ("FieldValueRequired", "spec.name"),
        ("FieldValueTypeInvalid", "spec.count"),
    ]
    causes = validate(obj(count=0, tags=["a", "b", "c"], name="ABCDEFG"), SCHEMA)
    assert reasons(causes) == [
        ("FieldValueInvalid", "spec.name"),
        ("FieldValueTooLong", "spec.name"),
        ("FieldValueInvalid", "spec.count"),
        ("FieldValueTooMany", "spec.tags"),
    ]
    assert causes[2]["message"] == (
        "Invalid value: 0: spec.count in body should be greater than or equal to 1"
    )
    type_cause = validate(obj(count="x"), SCHEMA)[0]
    assert type_cause["message"] == (
        'Invalid value: "string": spec.count in body must be of type integer: "string"'
    )
    assert reasons(validate({"apiVersion": "x/v1", "kind": "X"}, SCHEMA)) == [
        ("FieldValueRequired", "spec")
    ]


def test_cel_rules_add_the_not_checked_cause_when_something_failed() -> None:
    causes = validate(obj(mode="C", rules="r"), SCHEMA)
    assert causes[-1]["field"] == "<nil>"
    assert "some validation rules were not checked" in causes[-1]["message"]
    message = invalid_message("X.x", "n", causes)
    assert message.startswith('X.x "n" is invalid: [spec.mode: Unsupported value: "C"')
    assert message.endswith("complete validation]")
    assert invalid_message("X.x", "n", causes[:1]) == (
        'X.x "n" is invalid: spec.mode: Unsupported value: "C": supported values: "A", "B"'
    )


def test_defaults_fill_absent_fields_under_existing_parents() -> None:
    source = obj(items=[{"name": "a"}, {"name": "b", "weight": 5}])
    out = apply_defaults(source, SCHEMA)
    assert out["spec"]["mode"] == "A"
    assert out["spec"]["nested"] == {"level": "low"}  # defaulted, then defaulted inside
    assert "opt" not in out["spec"]  # no parent, no default
    assert [i["weight"] for i in out["spec"]["items"]] == [1, 5]
    assert "mode" not in source["spec"]
    assert apply_defaults(obj(opt={}), SCHEMA)["spec"]["opt"] == {"inner": "x"}
    assert apply_defaults({"apiVersion": "x/v1"}, SCHEMA) == {"apiVersion": "x/v1"}


def test_nulls_are_defaulted_or_dropped_unless_nullable() -> None:
    out = apply_defaults(obj(mode=None, count=None, maybe=None), SCHEMA)
    assert out["spec"]["mode"] == "A"
    assert "count" not in out["spec"]
    assert out["spec"]["maybe"] is None


def test_pruning_drops_undeclared_fields_only() -> None:
    source = obj(
        unknown=1,
        free={"anything": {"goes": 1}},
        labels={"k": "v"},
        items=[{"name": "a", "junk": 1}],
        embedded={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "x": 1},
    )
    source["status"] = {"ok": True, "extra": 1}
    source["metadata"]["whatever"] = 1
    source["top"] = 1
    out = prune_unknown(source, SCHEMA)
    assert "unknown" not in out["spec"]
    assert "top" not in out
    assert out["spec"]["free"] == {"anything": {"goes": 1}}
    assert out["spec"]["labels"] == {"k": "v"}
    assert out["spec"]["items"] == [{"name": "a"}]
    assert out["spec"]["embedded"]["metadata"] == {"name": "p"}
    assert out["status"] == {"ok": True}
    assert out["metadata"]["whatever"] == 1  # metadata is never pruned here
    assert sorted(unknown_fields(source, SCHEMA)) == [
        "spec.items[0].junk",
        "spec.unknown",
        "status.extra",
        "top",
    ]


def test_duplicate_set_items_and_map_keys() -> None:
    causes = validate(
        obj(tags=["a", "a"], items=[{"name": "x"}, {"name": "x", "weight": 2}]), SCHEMA
    )
    assert causes == [
        {
            "reason": "FieldValueDuplicate",
            "message": 'Duplicate value: "a"',
            "field": "spec.tags[1]",
        },
        {
            "reason": "FieldValueDuplicate",
            "message": 'Duplicate value: map[string]interface {}{"name":"x"}',
            "field": "spec.items[1]",
        },
    ]
