"""Reading a live cluster for a render (explain, ``render --kubeconfig``) against a fake client."""

from __future__ import annotations

import asyncio
from typing import Any

from autopilot.golden.live import LiveLookups, read_hco, read_inputs
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
CONFIGMAPS = ResourceInfo("", "v1", "ConfigMap", "configmaps", True)


class FakeClient:
    """The KubeClient calls a live read makes, over a dict of objects."""

    def __init__(self, objects: dict[tuple[str, str, str], dict[str, Any]]) -> None:
        self.objects = objects

    async def get(self, res: ResourceInfo, name: str,
                  namespace: str | None = None) -> dict[str, Any] | None:
        if res.kind == "Scheduler":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self.objects.get((res.kind, namespace or "", name))

    async def list(self, res: ResourceInfo, **_: Any) -> tuple[list[dict[str, Any]], str]:
        if res.kind == "Node":
            return NODES, "1"
        return [o for (k, _, _), o in self.objects.items() if k == res.kind], "1"


def lookups_over(client: FakeClient, served: dict[tuple[str, str], ResourceInfo]) -> LiveLookups:
    return LiveLookups(client=client,  # type: ignore[arg-type]
                       resource_for=lambda av, kind: served.get((av, kind)),
                       loop=asyncio.get_running_loop())


async def test_read_inputs_without_openshift_kinds() -> None:
    client = FakeClient({("HyperConverged", "ns", "kubevirt-hyperconverged"): HCO})
    hco = await read_hco(client, namespace="ns")  # type: ignore[arg-type]
    assert hco is HCO
    inputs = await read_inputs(client, hco=hco, namespace="ns",  # type: ignore[arg-type]
                               lookups=lookups_over(client, {}),
                               environ={"RELATED_IMAGE_A": "img"})
    assert inputs.infrastructure is None and inputs.scheduler is None
    ctx = inputs.context(version="7")
    assert ctx.hardware["gpuPresent"] and ctx.topology["hasSchedulableMasters"]
    assert ctx.topology["isCompact"] and ctx.images == {"A": "img"} and ctx.version == "7"


async def test_missing_hco_reads_as_none() -> None:
    assert await read_hco(FakeClient({}), namespace="ns") is None  # type: ignore[arg-type]


async def test_live_lookups_from_a_worker_thread() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "c", "namespace": "x"}, "data": {"k": "v"}}
    client = FakeClient({("ConfigMap", "x", "c"): cm})
    lookups = lookups_over(client, {("v1", "ConfigMap"): CONFIGMAPS})

    def in_thread() -> tuple[str, str, bool, bool]:
        return (
            lookups.configmap_value("x", "c", "k"),
            lookups.configmap_value("x", "c", "missing", "d"),
            lookups.object_exists("v1", "ConfigMap", "nope", "x"),
            lookups.recording_rule_exists("r"),  # kind not served: quietly false
        )

    assert await asyncio.to_thread(in_thread) == ("v", "d", False, False)
