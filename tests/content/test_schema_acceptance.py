"""Every object this content renders is accepted by the real CRD schemas (server-side dry run).

Every kind's published CRD comes from ../shared/crds (no hand-written stand-ins). Each
object is applied with ``dryRun=All`` and must get a 2xx, and every field we set must
survive (a misspelt field would be pruned silently).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import all_on_contexts, plural_of
from autopilot.golden.lookups import Lookups, OfflineLookups
from autopilot.golden.render import render_asset
from tests.support.platform import CRDS
from tests.support.rendering import (
    SHARED,
    configmap,
    context,
    descheduler_crd,
    make_hco,
    make_nodes,
    plan,
    prometheus_rule,
    snapshot,
    storage_profile,
)

from .test_feature_switches import SWITCHES

P = "platform.kubevirt.io/"


def variants() -> Iterator[tuple[dict[str, Any], dict[str, Any], Lookups]]:
    """(HCO, node options, lookups) covering every branch that changes the object's shape."""
    annotations: dict[str, str] = {}
    spec: dict[str, Any] = {}
    for ann, hco_spec, _ in SWITCHES.values():
        annotations.update(ann)
        spec.update(hco_spec)
    annotations[P + "kubevirt-metrics-exporter-env"] = json.dumps({"LOG_LEVEL": "debug", "X": 1})
    rich = snapshot(
        descheduler_crd(["KubeVirtRelieveAndMigrate"]),
        prometheus_rule("descheduler:combined_utilization_and_pressure:avg1m"),
        configmap("openshift-monitoring", "cluster-monitoring-config",
                  {"config.yaml": "prometheusK8s:\n  retention: 15d\n"}),
        storage_profile("cephfs", rwx=True),
    )
    nodes = {"schedulable_masters": True, "pci": True}
    yield make_hco(annotations, spec), nodes, rich
    quiet = {k: v for k, v in annotations.items() if k != P + "enable-audit-logging"}
    yield make_hco(quiet, spec), nodes, OfflineLookups()


def rendered_objects(golden: GoldenState) -> list[tuple[str, dict[str, Any]]]:
    """(asset, object) for every distinct object of every variant of the golden state.

    The content features' switch variants above, then every asset of the catalogue in
    every topology it knows with every condition on (``all_on_contexts``).
    """
    seen: set[str] = set()
    out = []

    def add(asset: str, obj: dict[str, Any]) -> None:
        key = json.dumps(obj, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append((asset, obj))

    for hco, node_opts, lookups in variants():
        ctx = context(hco, nodes=make_nodes(**node_opts))
        for feature in sorted(SWITCHES):
            for asset in golden.feature_assets(golden.feature(feature)):
                result = plan(golden, asset.name, ctx, lookups=lookups)
                assert result.error is None, result.error
                for obj in result.objects:
                    add(asset.name, obj)
    storage = snapshot(storage_class_object())
    for ctx in all_on_contexts(golden):
        for asset in golden.assets:
            for obj in render_asset(golden, asset, ctx, lookups=storage):
                add(asset.name, obj)
    return out


def storage_class_object() -> dict[str, Any]:
    """A default StorageClass, so every asset renders (the LokiStack needs one)."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "standard", "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true"}}}


def api_path(golden: GoldenState, obj: dict[str, Any]) -> str:
    group_version = obj["apiVersion"]
    base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    plural = plural_of(obj["kind"], dict(golden.plurals))
    namespace = obj["metadata"].get("namespace")
    prefix = f"{base}/namespaces/{namespace}" if namespace else base
    return f"{prefix}/{plural}/{obj['metadata']['name']}"


def leaf_paths(value: Any, path: str = "") -> set[str]:
    if isinstance(value, dict):
        return set().union(*(leaf_paths(v, f"{path}/{k}") for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(leaf_paths(v, f"{path}/{i}") for i, v in enumerate(value)))
    return {path}


def test_objects_render_for_the_schema_check(golden: GoldenState) -> None:
    objects = rendered_objects(golden)
    kinds = {o["kind"] for _, o in objects}
    assert {"KubeDescheduler", "LokiStack", "OperationRuleSet", "StorageBasedRemediationConfig",
            "SecurityContextConstraints", "PodMonitor", "DaemonSet", "ConfigMap"} <= kinds


def prepared_cluster(cluster: Any, objects: list[dict[str, Any]]) -> Any:
    """The test cluster with every CRD installed and the objects' namespaces created."""
    if not (SHARED / "crds").is_dir():
        pytest.skip("../shared/crds is absent: the published CRD schemas are not available")
    groups = {o["kind"]: o["apiVersion"].rpartition("/")[0] for o in objects}
    # Built-in groups: the core group ("") and the *.k8s.io ones; every other is a CRD's.
    custom = sorted(k for k, g in groups.items() if g and not g.endswith(".k8s.io")
                    and g not in ("apps", "batch", "policy", "autoscaling"))
    unknown = [kind for kind in custom if kind not in CRDS]
    assert not unknown, f"no published CRD file known for {unknown} (tests/support/platform.py)"
    cluster.install_crds(*(SHARED / "crds" / CRDS[kind][4] for kind in custom), timeout=120.0)
    namespaces = {o["metadata"]["namespace"] for o in objects if o["metadata"].get("namespace")}
    for namespace in sorted(namespaces):
        status, body = cluster.api(
            "POST", "/api/v1/namespaces",
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        )
        assert status in (201, 409), (namespace, status, body)
    return cluster


def dry_run_problem(cluster: Any, golden: GoldenState, obj: dict[str, Any]) -> str | None:
    """Why the server refuses (or prunes) ``obj`` on a dry-run apply; None when accepted."""
    status, body = cluster.api(
        "PATCH",
        api_path(golden, obj),
        body=obj,
        query={"dryRun": "All", "fieldManager": "test", "force": "true"},
        content_type="application/apply-patch+yaml",
    )
    if not 200 <= status < 300:
        message = body.get("message") if isinstance(body, dict) else body
        return f"HTTP {status}: {message}"
    lost = leaf_paths(obj) - leaf_paths(body)
    return f"fields dropped by the schema: {sorted(lost)[:5]}" if lost else None


@pytest.mark.timeout(400)  # every object of every variant, one dry run each
def test_rendered_objects_pass_the_real_schemas(golden: GoldenState, cluster: Any) -> None:
    objects = rendered_objects(golden)
    cluster = prepared_cluster(cluster, [o for _, o in objects])
    failures = []
    for asset, obj in objects:
        problem = dry_run_problem(cluster, golden, obj)
        if problem:
            failures.append(f"{asset}: {obj['kind']} {obj['metadata']['name']}: {problem}")
    assert not failures, "\n".join(failures)


@pytest.mark.timeout(400)
def test_the_schema_check_catches_bad_objects(golden: GoldenState, cluster: Any) -> None:
    objects = {o["kind"]: o for _, o in rendered_objects(golden)}
    cluster = prepared_cluster(cluster, list(objects.values()))
    bad_enum = copy.deepcopy(objects["LokiStack"])
    bad_enum["spec"]["size"] = "1x.huge"
    assert dry_run_problem(cluster, golden, bad_enum) is not None
    misspelt = copy.deepcopy(objects["KubeDescheduler"])
    misspelt["spec"]["deschedulingIntervalSecs"] = 60
    assert dry_run_problem(cluster, golden, misspelt) is not None
    assert dry_run_problem(cluster, golden, objects["KubeDescheduler"]) is None
    # The reference's SCC: the published CRD requires priority (nullable, but required).
    no_priority = copy.deepcopy(objects["SecurityContextConstraints"])
    del no_priority["priority"]
    problem = dry_run_problem(cluster, golden, no_priority)
    assert problem is not None and "priority" in problem, problem
    assert dry_run_problem(cluster, golden, objects["SecurityContextConstraints"]) is None


def test_every_object_belongs_to_exactly_one_asset(golden: GoldenState) -> None:
    owners: dict[tuple[str, str, str, str], set[str]] = {}
    for asset, obj in rendered_objects(golden):
        meta = obj["metadata"]
        key = (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])
        owners.setdefault(key, set()).add(asset)
    shared = {key: assets for key, assets in owners.items() if len(assets) > 1}
    assert not shared
