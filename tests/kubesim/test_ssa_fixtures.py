"""Replay the real kube-apiserver recordings through the SSA core.

Each step starts from the object the real server returned one step earlier and
must produce the same managedFields, conflicts and (with the built-in defaults)
the same object.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from autopilot.kube.resources import split_api_version
from kubesim.crd_defaults import apply_defaults, prune_unknown
from kubesim.crd_validation import invalid_message, validate
from kubesim.schema import TypeSchema, builtin_schema, schema_from_openapi
from kubesim.ssa import ApplyConflict, record_update, server_side_apply
from tests.support.sim_defaults import server_defaults

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FIXTURES = SHARED / "kube-fixtures"

pytestmark = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"recordings not available ({FIXTURES} is absent)"
)

# Fields the real server fills in that the SSA core leaves to kubesim (allocation).
_ALLOCATED = ("clusterIP", "clusterIPs")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def step_time(body: dict[str, Any]) -> str:
    entries = body.get("metadata", {}).get("managedFields") or [{}]
    return str(max(e.get("time", "") for e in entries))


def without_allocated(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for key in _ALLOCATED:
        out.get("spec", {}).pop(key, None)
    return out


def final_state(name: str) -> dict[str, Any]:
    """The object as the last successful, stored step of a recording left it."""
    state: dict[str, Any] = {}
    for step in load(name)["steps"]:
        request, response = step["request"], step["response"]
        if response["status"] < 300 and request["query"].get("dryRun") != "All":
            state = response["body"]
    return state


def replay(name: str, *, start: dict[str, Any] | None = None) -> int:
    """Replay every PATCH of a recording; return how many steps were checked."""
    live = start
    schema: TypeSchema | None = None
    checked = 0
    for step in load(name)["steps"]:
        request, response = step["request"], step["response"]
        expected = response["body"]
        if request["method"] != "PATCH":
            if request["method"] == "GET" and response["status"] == 200:
                live = expected
            continue
        body = request["body"]
        api_version = body.get("apiVersion") or (live or {})["apiVersion"]
        kind = body.get("kind") or (live or {})["kind"]
        group, version = split_api_version(api_version)
        type_schema = schema or builtin_schema(group, version, kind)
        manager = request["query"]["fieldManager"]
        now = step_time(expected) if response["status"] < 300 else "2026-11-26T08:00:00Z"
        try:
            if request["headers"]["Content-Type"] == "application/apply-patch+yaml":
                result = server_side_apply(
                    live=live,
                    applied=body,
                    manager=manager,
                    force=request["query"].get("force") == "true",
                    schema=type_schema,
                    now=now,
                )
            else:
                result = record_update(
                    old=live,
                    new=merge_patch(live, body),
                    manager=manager,
                    schema=type_schema,
                    now=now,
                )
        except ApplyConflict as conflict:
            assert response["status"] == 409, f"{name}: unexpected conflict {conflict.message}"
            assert conflict.message == expected["message"]
            assert conflict.causes == expected["details"]["causes"]
            checked += 1
            continue
        assert response["status"] in (200, 201), f"{name}: expected {response['status']}"
        assert result["metadata"].get("managedFields") == expected["metadata"]["managedFields"]
        if schema is None:
            result = server_defaults(group, version, kind, result)
        got = {
            k: v for k, v in without_allocated(result).items() if k not in ("metadata", "status")
        }
        want = {
            k: v for k, v in without_allocated(expected).items() if k not in ("metadata", "status")
        }
        assert got == want
        assert result["metadata"].get("labels") == expected["metadata"].get("labels")
        checked += 1
        if request["query"].get("dryRun") != "All":
            live = expected
    return checked


@pytest.mark.parametrize(
    ("name", "after", "steps"),
    [
        ("ssa-create-then-noop.json", None, 2),
        # The ConfigMap scenarios were recorded back to back on one object.
        ("ssa-conflict-dryrun-force.json", "ssa-create-then-noop.json", 4),
        ("ssa-remove-field.json", "ssa-conflict-dryrun-force.json", 1),
        ("ssa-shared-ownership.json", "ssa-remove-field.json", 3),
        ("ssa-list-map-service-ports.json", None, 3),
        ("ssa-atomic-list-clusterrole.json", None, 3),
        ("ssa-defaults-daemonset.json", None, 2),
    ],
)
def test_recording_replays(name: str, after: str | None, steps: int) -> None:
    start = final_state(after) if after else None
    assert replay(name, start=start) == steps


def test_configmap_recordings_chain_from_a_single_start() -> None:
    """The ConfigMap scenarios ran back to back on one object; chain them the same way."""
    names = [
        "ssa-create-then-noop.json",
        "ssa-conflict-dryrun-force.json",
        "ssa-remove-field.json",
        "ssa-shared-ownership.json",
    ]
    live: dict[str, Any] | None = None
    for name in names:
        for step in load(name)["steps"]:
            request, response = step["request"], step["response"]
            if request["method"] != "PATCH" or response["status"] >= 300:
                continue
            expected = response["body"]
            if request["headers"]["Content-Type"] == "application/apply-patch+yaml":
                out = server_side_apply(
                    live=live,
                    applied=request["body"],
                    manager=request["query"]["fieldManager"],
                    force=request["query"].get("force") == "true",
                    schema=builtin_schema("", "v1", "ConfigMap"),
                    now=step_time(expected),
                )
            else:
                out = record_update(
                    old=live,
                    new=merge_patch(live, request["body"]),
                    manager=request["query"]["fieldManager"],
                    schema=builtin_schema("", "v1", "ConfigMap"),
                    now=step_time(expected),
                )
            assert out["metadata"]["managedFields"] == expected["metadata"]["managedFields"]
            assert out["data"] == expected["data"]
            if request["query"].get("dryRun") != "All":
                keep = {k: expected["metadata"][k] for k in ("uid", "resourceVersion")}
                live = out
                live["metadata"].update(keep)


def test_crd_create_and_status_update_match() -> None:
    steps = load("crd-lifecycle.json")["steps"]
    schema = builtin_schema("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    created = steps[0]["response"]["body"]
    request = server_defaults(
        "apiextensions.k8s.io", "v1", "CustomResourceDefinition", steps[0]["request"]["body"]
    )
    out = record_update(
        old=None,
        new=request,
        manager="fixture-recorder",
        schema=schema,
        now=step_time(created),
    )
    assert out["metadata"]["managedFields"] == created["metadata"]["managedFields"]
    assert out["spec"]["conversion"] == created["spec"]["conversion"]
    established = steps[1]["response"]["body"]
    new = copy.deepcopy(created)
    new["status"] = established["status"]
    status = record_update(
        old=created,
        new=new,
        manager="kube-apiserver",
        schema=schema,
        now=step_time(established),
        subresource="status",
    )
    assert status["metadata"]["managedFields"] == established["metadata"]["managedFields"]


def test_custom_resource_validation_defaults_and_apply() -> None:
    steps = load("crd-lifecycle.json")["steps"]
    crd = steps[0]["request"]["body"]
    schema = schema_from_openapi(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    bad, good = steps[3], steps[4]
    causes = validate(bad["request"]["body"], schema)
    assert causes == bad["response"]["body"]["details"]["causes"]
    message = invalid_message("KubeDescheduler.operator.openshift.io", "cluster", causes)
    assert message == bad["response"]["body"]["message"]
    assert validate(good["request"]["body"], schema) == []
    expected = good["response"]["body"]
    out = server_side_apply(
        live=None,
        applied=prune_unknown(good["request"]["body"], schema),
        manager="virt-platform-autopilot",
        force=True,
        schema=schema,
        now=step_time(expected),
    )
    out = apply_defaults(out, schema)
    assert out["spec"] == expected["spec"]
    assert out["metadata"]["managedFields"] == expected["metadata"]["managedFields"]


def test_cluster_scoped_custom_resource_apply() -> None:
    crd_file = SHARED / "crds" / "openshift" / "machineconfig-crd.yaml"
    if not crd_file.is_file():
        pytest.skip(f"{crd_file} is absent")
    crd = YAML(typ="safe").load(crd_file.read_text("utf-8"))
    schema = schema_from_openapi(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    [step, _] = load("cluster-scoped-apply.json")["steps"]
    expected = step["response"]["body"]
    out = server_side_apply(
        live=None,
        applied=step["request"]["body"],
        manager="virt-platform-autopilot",
        force=True,
        schema=schema,
        now=step_time(expected),
    )
    assert out["metadata"]["managedFields"] == expected["metadata"]["managedFields"]
    assert out["spec"] == expected["spec"]
