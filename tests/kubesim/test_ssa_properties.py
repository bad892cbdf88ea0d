"""Server-side apply invariants under random sequences of applies by a few managers."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubesim.fieldpath import MISSING, Path, decode_fields_v1, to_field_set
from kubesim.schema import TypeSchema
from kubesim.ssa import ApplyConflict, record_update, server_side_apply

STRING = TypeSchema(type="string")
SCHEMA = TypeSchema(
    type="object",
    properties={
        "apiVersion": STRING,
        "kind": STRING,
        "metadata": TypeSchema(
            type="object",
            properties={
                "name": STRING,
                "labels": TypeSchema(type="object", additional_properties=STRING),
            },
        ),
        "data": TypeSchema(type="object", additional_properties=STRING),
        "spec": TypeSchema(
            type="object",
            properties={
                "x": STRING,
                "items": TypeSchema(
                    type="array",
                    list_type="map",
                    list_map_keys=("name",),
                    items=TypeSchema(
                        type="object",
                        properties={"name": STRING, "value": STRING, "extra": STRING},
                    ),
                ),
                "tags": TypeSchema(type="array", list_type="set", items=STRING),
                "rules": TypeSchema(type="array", items=STRING),
            },
        ),
    },
)
MANAGERS = ("m1", "m2", "m3")
VALUES = st.sampled_from(["1", "2"])
# Fields nobody owns by design (identity), excluded from ownership checks.
IDENTITY = {(("f", "apiVersion"),), (("f", "kind"),), (("f", "metadata"), ("f", "name"))}


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "t/v1", "kind": "T", "metadata": {"name": "o"}}
    labels = draw(st.dictionaries(st.sampled_from(["l1", "l2"]), VALUES, max_size=2))
    if labels:
        obj["metadata"]["labels"] = labels
    data = draw(st.dictionaries(st.sampled_from(["a", "b", "c"]), VALUES, max_size=3))
    if data:
        obj["data"] = data
    spec: dict[str, Any] = {}
    if draw(st.booleans()):
        spec["x"] = draw(VALUES)
    names = draw(st.lists(st.sampled_from(["p", "q", "r"]), unique=True, max_size=3))
    items = []
    for name in names:
        item = {"name": name}
        for key in ("value", "extra"):
            if draw(st.booleans()):
                item[key] = draw(VALUES)
        items.append(item)
    if items:
        spec["items"] = items
    tags = draw(st.lists(st.sampled_from(["t1", "t2", "t3"]), unique=True, max_size=3))
    if tags:
        spec["tags"] = tags
    if draw(st.booleans()):
        spec["rules"] = draw(st.lists(VALUES, max_size=2))
    if spec:
        obj["spec"] = spec
    return obj


apply_op = st.tuples(st.just("apply"), st.sampled_from(MANAGERS), configs(), st.booleans())
edit_op = st.tuples(
    st.just("edit"), st.sampled_from(["a", "b", "c"]), st.sampled_from(["1", "2", "3"]), st.none()
)
operations = st.lists(st.one_of(apply_op, apply_op, apply_op, edit_op), min_size=1, max_size=12)


def ownership(obj: dict[str, Any] | None) -> dict[str, set[Path]]:
    out: dict[str, set[Path]] = {}
    for entry in (obj or {}).get("metadata", {}).get("managedFields", []):
        out[entry["manager"]] = decode_fields_v1(entry["fieldsV1"])
    return out


def value_at(obj: Any, path: Path) -> Any:
    current = obj
    for kind, raw in path:
        if kind == "f":
            if not isinstance(current, dict) or raw not in current:
                return MISSING
            current = current[raw]
            continue
        if not isinstance(current, list):
            return MISSING
        want = json.loads(raw)
        for item in current:
            if kind == "v" and item == want:
                break
            if (
                kind == "k"
                and isinstance(item, dict)
                and all(item.get(k) == v for k, v in want.items())
            ):
                break
        else:
            return MISSING
        current = item
    return current


def paths_of(obj: dict[str, Any]) -> set[Path]:
    body = {k: v for k, v in obj.items() if k != "status"}
    meta = dict(body.get("metadata", {}))
    meta.pop("managedFields", None)
    body["metadata"] = meta
    return to_field_set(body, SCHEMA) - IDENTITY


def check_applied(
    before: dict[str, Any] | None,
    after: dict[str, Any],
    manager: str,
    config: dict[str, Any],
) -> None:
    owners = ownership(after)
    applied = to_field_set(config, SCHEMA) - IDENTITY
    # Every applied field has the applied value and is owned by the applier.
    for path in applied:
        want = value_at(config, path)
        if isinstance(want, dict):  # a container; its leaves are checked on their own
            assert isinstance(value_at(after, path), dict), path
            continue
        assert value_at(after, path) == want, path
    assert applied <= owners.get(manager, set())
    old_owners = ownership(before)
    last = old_owners.get(manager, set())
    others_before: set[Path] = set()
    for name, paths in old_owners.items():
        if name != manager:
            others_before |= paths
    for path in last - applied:
        if any(p[: len(path)] == path for p in applied | others_before):
            continue  # still needed as a container by someone
        if path in others_before:
            continue
        assert value_at(after, path) is MISSING, f"{path} should be gone"
    for path in (last & others_before) - applied:
        # Shared fields survive one owner letting go (containers may lose other parts).
        kept, was = value_at(after, path), value_at(before, path)
        if isinstance(was, dict):
            assert isinstance(kept, dict), path
        else:
            assert kept == was, path


def check_ownership(obj: dict[str, Any]) -> None:
    owners = ownership(obj)
    owned: set[Path] = set().union(*owners.values()) if owners else set()
    assert paths_of(obj) <= owned, "every field written by a manager has an owner"
    for name, paths in owners.items():
        assert paths, f"{name} has an empty entry"
        for path in paths:
            assert value_at(obj, path) is not MISSING, f"{name} owns missing {path}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_random_apply_sequences_keep_ssa_invariants(ops: list[tuple[Any, ...]]) -> None:
    live: dict[str, Any] | None = None
    for step, (op, who, payload, force) in enumerate(ops):
        now = f"2026-01-01T00:00:{step:02d}Z"
        if op == "edit":
            if live is None:
                continue
            edited = copy.deepcopy(live)
            edited.setdefault("data", {})[who] = payload
            live = record_update(old=live, new=edited, manager="editor", schema=SCHEMA, now=now)
            check_ownership(live)
            continue
        snapshot = copy.deepcopy(live)
        try:
            result = server_side_apply(
                live=live, applied=payload, manager=who, force=force, schema=SCHEMA, now=now
            )
        except ApplyConflict as conflict:
            assert not force
            assert live == snapshot, "a failed apply changes nothing"
            owners = ownership(live)
            assert conflict.conflicts
            assert all(name in owners and name != who for name, _ in conflict.conflicts)
            continue
        assert live == snapshot, "inputs are not mutated"
        check_applied(live, result, who, payload)
        check_ownership(result)
        again = server_side_apply(
            live=result, applied=payload, manager=who, force=False, schema=SCHEMA, now="later"
        )
        assert again == result, "re-applying the same configuration is a no-op"
        live = result


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["a", "b", "TCP"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "port", "protocol", "x", "items"]), inner, max_size=3
        )
    ),
    max_leaves=12,
)
KINDS = [("", "v1", "Service"), ("apps", "v1", "Deployment"), ("", "v1", "ConfigMap")]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(KINDS),
    st.lists(st.tuples(st.sampled_from(MANAGERS), json_values, st.booleans()), max_size=4),
)
def test_arbitrary_input_fails_cleanly(kind: tuple[str, str, str], steps: list[Any]) -> None:
    """Malformed objects raise InvalidObject (or a conflict), never anything else."""
    from kubesim.schema import builtin_schema
    from kubesim.ssa import InvalidObject

    group, version, name = kind
    schema = builtin_schema(group, version, name)
    live: dict[str, Any] | None = None
    for manager, spec, force in steps:
        applied = {"apiVersion": "v1", "kind": name, "metadata": {"name": "o"}, "spec": spec}
        try:
            live = server_side_apply(
                live=live, applied=applied, manager=manager, force=force, schema=schema, now="t"
            )
        except (InvalidObject, ApplyConflict):
            continue
        edited = copy.deepcopy(live)
        edited["data"] = {"k": "v"}
        try:
            live = record_update(old=live, new=edited, manager="ed", schema=schema, now="t")
        except InvalidObject:
            continue
