"""Render golden-state assets the way the controller does, from small hand-made clusters."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from autopilot.golden.catalog import GoldenState, load_golden_state
from autopilot.golden.context import RenderContext, build_context
from autopilot.golden.gate import parse_activation
from autopilot.golden.lookups import Lookups, OfflineLookups, SnapshotLookups
from autopilot.golden.plan import AssetPlan, plan_asset
from autopilot.golden.render import render_text

PROJECT = Path(__file__).resolve().parents[2]
GOLDEN_ROOT = PROJECT / "golden_state"
SHARED = PROJECT.parent / "shared"
HCO_NAMESPACE = "openshift-cnv"
EXPORTER_IMAGE = "quay.io/example/kubevirt-metrics-exporter:v1"


def load() -> GoldenState:
    """The shipped golden state."""
    return load_golden_state(GOLDEN_ROOT)


def make_hco(
    annotations: Mapping[str, str] | None = None, spec: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A HyperConverged with the autopilot on and the given annotations and spec."""
    return {
        "apiVersion": "hco.kubevirt.io/v1",
        "kind": "HyperConverged",
        "metadata": {
            "name": "kubevirt-hyperconverged",
            "namespace": HCO_NAMESPACE,
            "annotations": {"platform.kubevirt.io/autopilot": "true", **(annotations or {})},
        },
        "spec": copy.deepcopy(dict(spec or {})),
    }


def make_nodes(
    *, masters: int = 3, workers: int = 3, schedulable_masters: bool = False, pci: bool = False
) -> list[dict[str, Any]]:
    """Nodes labelled the OpenShift way (schedulable masters also carry the worker role)."""
    nodes = []
    for i in range(masters):
        labels = {"node-role.kubernetes.io/master": ""}
        taints = [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]
        if schedulable_masters:
            labels["node-role.kubernetes.io/worker"] = ""
            taints = []
        meta = {"name": f"master-{i}", "labels": labels}
        nodes.append({"metadata": meta, "spec": {"taints": taints}})
    for i in range(workers):
        labels = {"node-role.kubernetes.io/worker": ""}
        if pci:
            labels["feature.node.kubernetes.io/pci-present"] = "true"
        nodes.append({"metadata": {"name": f"worker-{i}", "labels": labels}})
    return nodes


def infrastructure(*, platform: str = "", control_plane: str = "") -> dict[str, Any]:
    """An OpenShift Infrastructure ``cluster`` object."""
    status: dict[str, Any] = {"platformStatus": {"type": platform}}
    if control_plane:
        status["controlPlaneTopology"] = control_plane
    return {"apiVersion": "config.openshift.io/v1", "kind": "Infrastructure",
            "metadata": {"name": "cluster"}, "status": status}


def context(
    hco: Mapping[str, Any],
    *,
    nodes: Iterable[Mapping[str, Any]] | None = None,
    infra: Mapping[str, Any] | None = None,
    images: bool = True,
) -> RenderContext:
    """A render context like the controller builds."""
    environ = {"RELATED_IMAGE_KUBEVIRT_METRICS_EXPORTER": EXPORTER_IMAGE} if images else {}
    return build_context(
        hco=hco,
        nodes=make_nodes() if nodes is None else nodes,
        infrastructure=infra,
        environ=environ,
        version="test",
        namespace=HCO_NAMESPACE,
    )


def plan(
    golden: GoldenState,
    asset: str,
    ctx: RenderContext,
    *,
    lookups: Lookups | None = None,
) -> AssetPlan:
    """Gate, conditions and render of one asset."""
    return plan_asset(
        golden,
        golden.asset(asset),
        ctx,
        activation=parse_activation("true"),
        lookups=lookups or OfflineLookups(),
    )


def rendered(
    golden: GoldenState,
    asset: str,
    ctx: RenderContext,
    *,
    lookups: Lookups | None = None,
) -> list[dict[str, Any]]:
    """Objects of an asset that must be included and render cleanly."""
    result = plan(golden, asset, ctx, lookups=lookups)
    assert result.error is None, result.error
    assert result.included, f"{asset}: {result.reason}"
    assert result.objects, asset
    return result.objects


def one(golden: GoldenState, asset: str, ctx: RenderContext, **kw: Any) -> dict[str, Any]:
    """The single object of an asset."""
    objects = rendered(golden, asset, ctx, **kw)
    assert len(objects) == 1, [o["kind"] for o in objects]
    return objects[0]


def text(golden: GoldenState, asset: str, ctx: RenderContext, *, lookups: Lookups) -> str:
    """Raw template output (for byte-for-byte comparisons)."""
    return render_text(golden, golden.asset(asset), ctx, lookups=lookups)


def snapshot(*objects: Mapping[str, Any]) -> SnapshotLookups:
    """Cluster lookups over exactly these objects."""
    return SnapshotLookups(objects)


CUSTOMIZATIONS = ("devEnableEvictionsInBackground", "devDeviationThresholds",
                  "devActualUtilizationProfile", "podLifetime")


def descheduler_crd(
    profiles: list[str],
    *,
    customizations: Iterable[str] = CUSTOMIZATIONS,
    eviction_limits: bool = True,
) -> dict[str, Any]:
    """A KubeDescheduler CRD offering ``profiles``, these profileCustomizations fields and,
    optionally, evictionLimits (older operators lack the newer fields)."""
    spec_fields: dict[str, Any] = {
        "profiles": {"type": "array", "items": {"type": "string", "enum": profiles}},
        "profileCustomizations": {
            "type": "object",
            "properties": {name: {"type": "string"} for name in customizations},
        },
    }
    if eviction_limits:
        spec_fields["evictionLimits"] = {"type": "object"}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "kubedeschedulers.operator.openshift.io"},
        "spec": {
            "versions": [
                {
                    "name": "v1",
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "properties": spec_fields}
                            },
                        }
                    },
                }
            ]
        },
    }


def prometheus_rule(*records: str) -> dict[str, Any]:
    """The descheduler operator's PrometheusRule with these recording rules."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "descheduler-rules",
                     "namespace": "openshift-kube-descheduler-operator"},
        "spec": {"groups": [{"name": "recordingRules.rules",
                             "rules": [{"record": r, "expr": "vector(1)"} for r in records]}]},
    }


def configmap(namespace: str, name: str, data: Mapping[str, str]) -> dict[str, Any]:
    """A ConfigMap for lookups."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": dict(data)}


def storage_profile(name: str, *, rwx: bool) -> dict[str, Any]:
    """A CDI StorageProfile, offering RWX Filesystem claims or only RWO."""
    mode = "ReadWriteMany" if rwx else "ReadWriteOnce"
    return {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "StorageProfile",
            "metadata": {"name": name},
            "status": {"claimPropertySets": [{"accessModes": [mode], "volumeMode": "Filesystem"}]}}
