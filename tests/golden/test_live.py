"""Live reading for ``autopilot render --kubeconfig`` against a fake client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from autopilot.golden.live import BridgedLookups, LiveReadError, read_context
from autopilot.kube.client import ApiError
from autopilot.kube.resources import ResourceInfo

HCO = {
    "apiVersion": "hco.kubevirt.io/v1",
    "kind": "HyperConverged",
    "metadata": {"name": "kubevirt-hyperconverged", "namespace": "ns",
                 "annotations": {"platform.kubevirt.io/autopilot": "true"}},
}
NODES = [
    {"metadata": {"name": "m", "labels": {"node-role.kubernetes.io/master": "",
                                          "node-role.kubernetes.io/worker": ""}},
     "status": {"capacity": {"nvidia.com/gpu": "1"}}},
]


class FakeClient:
    """The three KubeClient calls live.py makes, over a dict of objects."""

    def __init__(self, objects: dict[tuple[str, str, str], dict[str, Any]],
                 discovery: dict[str, list[dict[str, Any]]]) -> None:
        self.objects = objects
        self.discovery = discovery

    async def get(self, res: ResourceInfo, name: str,
                  namespace: str | None = None) -> dict[str, Any] | None:
        if res.kind == "Scheduler":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self.objects.get((res.kind, namespace or "", name))

    async def list(self, res: ResourceInfo, **_: Any) -> tuple[list[dict[str, Any]], str]:
        if res.kind == "Node":
            return NODES, "1"
        return [o for (k, _, _), o in self.objects.items() if k == res.kind], "1"

    async def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        if path not in self.discovery:
            raise ApiError(404, "NotFound", "not found")
        return {"resources": self.discovery[path]}


async def test_read_context_without_openshift_kinds() -> None:
    client = FakeClient({("HyperConverged", "ns", "kubevirt-hyperconverged"): HCO}, {})
    snap = await read_context(client, namespace="ns", version="7",  # type: ignore[arg-type]
                              environ={"RELATED_IMAGE_A": "img"})
    assert snap.hco is HCO
    ctx = snap.context
    assert ctx.hardware["gpuPresent"] and ctx.topology["hasSchedulableMasters"]
    assert ctx.topology["isCompact"] and ctx.images == {"A": "img"} and ctx.version == "7"


async def test_missing_hco_is_one_line() -> None:
    with pytest.raises(LiveReadError, match="ns/kubevirt-hyperconverged not found"):
        await read_context(FakeClient({}, {}), namespace="ns", version="1")  # type: ignore[arg-type]


async def test_bridged_lookups_from_a_worker_thread() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "c", "namespace": "x"}, "data": {"k": "v"}}
    client = FakeClient(
        {("ConfigMap", "x", "c"): cm},
        {"/api/v1": [{"name": "configmaps", "kind": "ConfigMap", "namespaced": True},
                     {"name": "configmaps/status", "kind": "ConfigMap", "namespaced": True}]},
    )
    lookups = BridgedLookups(client, asyncio.get_running_loop())  # type: ignore[arg-type]

    def in_thread() -> tuple[str, str, bool, bool]:
        return (
            lookups.configmap_value("x", "c", "k"),
            lookups.configmap_value("x", "c", "missing", "d"),
            lookups.object_exists("v1", "ConfigMap", "nope", "x"),
            lookups.recording_rule_exists("r"),  # kind not served: quietly false
        )

    assert await asyncio.to_thread(in_thread) == ("v", "d", False, False)
