"""The platform.kubevirt.io/patch annotation (RFC 6902 with guard rails)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from autopilot.engine.overrides import SENSITIVE_KINDS, PatchError, apply_user_patch


def desired() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c"}]}}},
    }


def patch(*ops: dict[str, Any]) -> str:
    return json.dumps(list(ops))


def refused(text: str, *, kind: str = "Deployment") -> PatchError:
    with pytest.raises(PatchError) as info:
        apply_user_patch(desired(), text, kind=kind)
    return info.value


def test_applies_operations_in_order_without_mutating_input() -> None:
    before = desired()
    snapshot = copy.deepcopy(before)
    out = apply_user_patch(
        before,
        patch(
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
            {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "d"}},
            {"op": "copy", "from": "/spec/replicas", "path": "/metadata/annotations"},
            {"op": "remove", "path": "/metadata/annotations"},
            {"op": "move", "from": "/metadata/labels/tier", "path": "/metadata/labels/t"},
            {"op": "test", "path": "/spec/replicas", "value": 5},
        ),
        kind="Deployment",
    )
    assert before == snapshot
    assert out["spec"]["replicas"] == 5
    assert out["metadata"]["labels"] == {"app": "web", "t": "front"}
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["c", "d"]


def test_escaped_member_names_work() -> None:
    out = apply_user_patch(
        desired(),
        patch({"op": "add", "path": "/metadata/labels/example.com~1a~0b", "value": "v"}),
        kind="Deployment",
    )
    assert out["metadata"]["labels"]["example.com/a~b"] == "v"


def test_empty_patch_is_a_copy() -> None:
    d = desired()
    out = apply_user_patch(d, "[]", kind="Deployment")
    assert out == d and out is not d


@pytest.mark.parametrize(
    "text",
    ["", "{", "not json", "[1,", "NaN", "[Infinity]", '{"op": "add"}', "null", '"[]"', "1"],
)
def test_invalid_json(text: str) -> None:
    err = refused(text)
    assert err.reason == "invalid-json"
    assert str(err).startswith("invalid JSON")


@pytest.mark.parametrize(
    ("ops", "fragment"),
    [
        ([1], "operation 1 is a number"),
        ([{"path": "/a"}], "has op null"),
        ([{"op": "merge", "path": "/a"}], 'has op "merge"'),
        ([{"op": "add", "value": 1}], "needs a string 'path'"),
        ([{"op": "add", "path": 3, "value": 1}], "needs a string 'path'"),
        ([{"op": "add", "path": "/a"}], "needs a 'value'"),
        ([{"op": "move", "path": "/a"}], "needs a string 'from'"),
        ([{"op": "add", "path": "spec", "value": 1}], "does not start with '/'"),
        ([{"op": "add", "path": "/a~2", "value": 1}], "'~'"),
        ([{"op": "test", "path": "/a", "value": [[[[1]]]]}, 7], "operation 2"),
    ],
)
def test_bad_shapes_name_the_operation(ops: list[Any], fragment: str) -> None:
    err = refused(json.dumps(ops))
    assert err.reason == "invalid-json"
    assert fragment in str(err)


def test_absurd_nesting_is_refused_not_crashing() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert refused(deep).reason == "invalid-json"
    value: Any = 1
    for _ in range(200):
        value = [value]
    assert "nested deeper" in str(refused(patch({"op": "add", "path": "/x", "value": value})))


@pytest.mark.parametrize("kind", sorted(SENSITIVE_KINDS))
def test_sensitive_kinds_refuse_every_patch(kind: str) -> None:
    err = refused("[]", kind=kind)
    assert err.reason == "sensitive-kind"
    assert str(err) == f"sensitive kind {kind}: patches are refused"


def test_sensitive_kind_of_the_object_counts_too() -> None:
    d = desired()
    d["kind"] = "ClusterRole"
    with pytest.raises(PatchError, match="sensitive kind ClusterRole"):
        apply_user_patch(d, "[]", kind="Deployment")


def test_kind_match_is_exact() -> None:
    # Kubernetes kinds are case-sensitive: "role" is not Role.
    assert apply_user_patch(desired(), "[]", kind="role")


PROTECTED_WRITES = [
    "/metadata/name",
    "/metadata/namespace",
    "/metadata/managedFields",
    "/metadata/managedFields/0",
    "/apiVersion",
    "/kind",
    "/status",
    "/status/phase",
    "/metadata",
    "",
    "/",
    "/metadata/name/",
    "/metadata//name",
    "//metadata/name",
    "/spec/../metadata/name",
    "/metadata/labels/../name",
    "/metadata/./name",
    "/./kind",
    "/spec/../../status",
    "/metadata/labels/..",
]


@pytest.mark.parametrize("path", PROTECTED_WRITES)
@pytest.mark.parametrize("op", ["add", "replace", "remove"])
def test_protected_paths_are_refused(path: str, op: str) -> None:
    err = refused(patch({"op": op, "path": path, "value": "evil"}))
    assert err.reason == "forbidden-path"
    assert str(err).startswith("forbidden path /")


@pytest.mark.parametrize("path", PROTECTED_WRITES)
@pytest.mark.parametrize("op", ["move", "copy"])
def test_protected_from_is_refused(path: str, op: str) -> None:
    err = refused(patch({"op": op, "from": path, "path": "/spec/x"}))
    assert err.reason == "forbidden-path"


def test_copy_into_protected_path_is_refused() -> None:
    err = refused(patch({"op": "copy", "from": "/spec/replicas", "path": "/metadata/name"}))
    assert err.reason == "forbidden-path"


def test_test_may_read_protected_paths() -> None:
    out = apply_user_patch(
        desired(),
        patch(
            {"op": "test", "path": "/kind", "value": "Deployment"},
            {"op": "test", "path": "/metadata/name", "value": "web"},
            {"op": "replace", "path": "/spec/replicas", "value": 1},
        ),
        kind="Deployment",
    )
    assert out["spec"]["replicas"] == 1


def test_escaped_slash_is_a_member_name_not_a_path() -> None:
    # "/metadata~1name" is the root member "metadata/name": harmless.
    out = apply_user_patch(
        desired(), patch({"op": "add", "path": "/metadata~1name", "value": "x"}), kind="Deployment"
    )
    assert out["metadata"]["name"] == "web"
    assert out["metadata/name"] == "x"


def test_similar_names_are_not_protected() -> None:
    out = apply_user_patch(
        desired(),
        patch(
            {"op": "add", "path": "/metadata/labels/name", "value": "a"},
            {"op": "add", "path": "/spec/status", "value": "b"},
            {"op": "add", "path": "/metadata/nameSuffix", "value": "c"},
            {"op": "add", "path": "/Kind", "value": "d"},
        ),
        kind="Deployment",
    )
    assert out["kind"] == "Deployment" and out["Kind"] == "d"
    assert out["metadata"]["nameSuffix"] == "c"


@pytest.mark.parametrize(
    ("op", "fragment"),
    [
        ({"op": "remove", "path": "/spec/nope"}, "operation 2 (remove /spec/nope) failed: "),
        ({"op": "replace", "path": "/spec/a/b", "value": 1}, "operation 2 (replace /spec/a/b)"),
        ({"op": "test", "path": "/spec/replicas", "value": 3}, "operation 2 (test /spec/replicas)"),
        ({"op": "add", "path": "/spec/template/spec/containers/9", "value": 1}, "operation 2"),
        ({"op": "move", "from": "/spec", "path": "/spec/inner"}, "operation 2 (move /spec/inner)"),
    ],
)
def test_failing_operation_is_named(op: dict[str, Any], fragment: str) -> None:
    err = refused(patch({"op": "add", "path": "/spec/ok", "value": 1}, op))
    assert err.reason == "operation-failed"
    assert fragment in str(err)
    assert "\n" not in str(err)


def test_error_messages_are_one_line_and_bounded() -> None:
    long_path = "/spec/" + "x" * 5000
    err = refused(patch({"op": "remove", "path": long_path}))
    assert "\n" not in str(err) and len(str(err)) < 400
