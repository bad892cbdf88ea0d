"""Property tests: user-supplied annotations never crash the engine or slip past its guards."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autopilot.engine.overrides import (
    ExclusionError,
    PatchError,
    apply_ignore_fields,
    apply_user_patch,
    parse_disabled_resources,
)
from autopilot.engine.pointers import escape_token

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any code point, surrogates included: annotations can carry anything a client sends.
any_text = st.text(st.characters(exclude_categories=()), max_size=300)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
keys = st.sampled_from(["metadata", "name", "namespace", "spec", "status", "kind", "apiVersion",
                        "managedFields", "labels", "0", "-", "..", ".", "", "a/b", "~"])


def base() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "ns",
            "labels": {"app": "web"},
            "managedFields": [{"manager": "m"}],
        },
        "spec": {"replicas": 1, "list": [1, {"name": "x"}], "name": "spec-name"},
        "status": {"ready": True},
    }


PROTECTED = [("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace"),
             ("metadata", "managedFields"), ("status",)]


def protected_view(doc: dict[str, Any]) -> list[Any]:
    out = []
    for path in PROTECTED:
        node: Any = doc
        for key in path:
            node = node.get(key, "<absent>") if isinstance(node, dict) else "<absent>"
        out.append(node)
    return out


@st.composite
def sneaky_pointers(draw: st.DrawFn) -> str:
    """Pointers aimed at protected paths, written in every way we could think of."""
    target = list(draw(st.sampled_from([*PROTECTED, ("metadata",), ()])))
    under = tuple(target) in PROTECTED
    if under:
        target += draw(st.lists(keys.filter(lambda k: k not in (".", "..")), max_size=2))
    tokens: list[str] = []
    for key in target:
        tokens.extend(draw(st.lists(st.sampled_from(["", ".", "spec/..", "x/.."]), max_size=2)))
        tokens.append(escape_token(key))
    # Below a protected path anything goes; above one, only what stays above.
    trailing = ["", ".", "x"] if under else ["", ".", ".."]
    tokens.extend(draw(st.lists(st.sampled_from(trailing), max_size=2)))
    text = "/" + "/".join(tokens) if tokens else ""
    style = draw(st.sampled_from(["raw", "escape-all", "escape-some", "double-slash"]))
    if style == "escape-all":
        text = "".join("/" + escape_token(t) for t in text.split("/")[1:])
    elif style == "escape-some":
        text = text.replace("/", "~1", draw(st.integers(0, 2)))
    elif style == "double-slash":
        text = text.replace("/", "//", 1)
    return text


@st.composite
def patch_ops(draw: st.DrawFn) -> dict[str, Any]:
    pointer = sneaky_pointers() | st.sampled_from(["/spec/replicas", "/spec/list/0", "/spec/new"])
    op = draw(st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]))
    out: dict[str, Any] = {"op": op, "path": draw(pointer)}
    if op in ("move", "copy"):
        out["from"] = draw(pointer)
    if op in ("add", "replace", "test"):
        out["value"] = draw(json_values)
    return out


@FUZZ
@given(any_text)
def test_patch_text_only_ever_raises_patch_error(text: str) -> None:
    try:
        apply_user_patch(base(), text, kind="Deployment")
    except PatchError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(json_values)
def test_patch_json_only_ever_raises_patch_error(doc: Any) -> None:
    op = {"op": "add", **doc} if isinstance(doc, dict) else {"op": "add", "path": doc}
    for text in (json.dumps(doc), json.dumps([doc]), json.dumps([op])):
        with contextlib.suppress(PatchError):
            apply_user_patch(base(), text, kind="Deployment")


@FUZZ
@given(st.lists(patch_ops(), min_size=1, max_size=5))
def test_patches_never_change_protected_fields(ops: list[dict[str, Any]]) -> None:
    desired = base()
    snapshot = copy.deepcopy(desired)
    try:
        out = apply_user_patch(desired, json.dumps(ops), kind="Deployment")
    except PatchError:
        pass
    else:
        assert protected_view(out) == protected_view(snapshot)
    assert desired == snapshot


@FUZZ
@given(sneaky_pointers(), st.sampled_from(["add", "replace", "remove", "move", "copy"]))
def test_protected_pointers_are_refused_outright(pointer: str, op: str) -> None:
    ops = [{"op": op, "path": pointer, "value": 1, "from": pointer}]
    try:
        out = apply_user_patch(base(), json.dumps(ops), kind="Deployment")
    except PatchError as exc:
        if "~1" not in pointer:
            # Unescaped, every reading is at, under or above a protected path:
            # refused by the path check, before anything runs.
            assert exc.reason == "forbidden-path", str(exc)
    else:
        # "~1" made a separator part of a member name: harmless, but check.
        assert "~1" in pointer
        assert protected_view(out) == protected_view(base())


@FUZZ
@given(any_text, st.one_of(st.none(), st.dictionaries(keys, json_values, max_size=5)))
def test_ignore_fields_never_raises(text: str, live: dict[str, Any] | None) -> None:
    desired = base()
    snapshot = copy.deepcopy(desired)
    live_snapshot = copy.deepcopy(live)
    r = apply_ignore_fields(desired, live, text)
    assert isinstance(r.desired, dict)
    assert desired == snapshot and live == live_snapshot
    assert protected_view(r.desired)[:5] == protected_view(snapshot)[:5]
    assert len(r.invalid) == len(r.errors)


@FUZZ
@given(
    st.lists(sneaky_pointers() | st.sampled_from(["/spec/list/5", "/spec/list/1/name", "/spec"]),
             max_size=6),
    st.dictionaries(keys, json_values, max_size=5),
    json_values,
)
def test_ignore_fields_with_structured_live(
    pointers: list[str], live_extra: dict[str, Any], spec: Any
) -> None:
    live = {**base(), **live_extra, "spec": spec}
    r = apply_ignore_fields(base(), live, ",".join(pointers))
    assert protected_view(r.desired)[:5] == protected_view(base())[:5]
    assert "resourceVersion" not in r.desired["metadata"]


@FUZZ
@given(any_text)
def test_disabled_resources_text_only_raises_exclusion_error(text: str) -> None:
    try:
        rules = parse_disabled_resources(text)
    except ExclusionError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(isinstance(r.kind, str) and isinstance(r.name, str) for r in rules)


@FUZZ
@given(json_values)
def test_disabled_resources_structured_only_raises_exclusion_error(doc: Any) -> None:
    # JSON is YAML: structured but badly shaped documents.
    for text in (json.dumps(doc), json.dumps([doc])):
        with contextlib.suppress(ExclusionError):
            parse_disabled_resources(text)


@given(st.binary(max_size=200) | st.integers() | st.none())
@settings(max_examples=50, deadline=None)
def test_non_string_annotations_are_handled(value: Any) -> None:
    with contextlib.suppress(PatchError):
        apply_user_patch(base(), value, kind="Deployment")
    assert apply_ignore_fields(base(), base(), value).desired == base()
    with contextlib.suppress(ExclusionError):
        parse_disabled_resources(value)
