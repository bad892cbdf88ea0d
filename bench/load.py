"""A big cluster for the scale benchmark, and the churn it goes through.

The nodes look like real ones (labels, annotations, conditions, images: a few
KB each), so the informer's reduction matters; the ConfigMaps are unrelated to
the controller (no ownership label). kubesim is loaded through ``create_objects``
(no HTTP) and churned through its store; a real server through concurrent
requests.

Churn comes in three sorts:

- noise the controller is built to ignore: node heartbeats (status conditions
  and a heartbeat annotation, dropped by the node reducer) and ConfigMap edits
  (never seen by the label-selected watches);
- node changes hardware and topology detection reads, which the controller must
  process (every asset is re-evaluated): an NFD label's value, an extended
  resource's capacity, a NoSchedule taint on and off. They do not change what
  the detection concludes (the bench nodes are workers without PCI devices), so
  the work is re-evaluation, not a different cluster;
- changes to managed objects (:mod:`bench.objects`): half of them drift the
  controller must undo, half an annotation of another tool it must look at and
  leave alone.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from bench.client import BenchApiError, BenchClient, gather_limited
from bench.env import Env
from bench.objects import Target, edit_ops, get_pointer

NODES_KEY, CM_KEY = ("", "nodes"), ("", "configmaps")
CM_NAMESPACES = 50
BATCH = 500
NFD_LABEL = "feature.node.kubernetes.io/cpu-model.family"
EXTENDED_RESOURCE = "devices.kubevirt.io/sev"
TAINT = {"key": "bench.kubevirt.io/maintenance", "effect": "NoSchedule"}
OTHER_TOOL = "bench.kubevirt.io/seen-by"


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def node_name(i: int) -> str:
    """Name of bench node ``i``."""
    return f"bench-node-{i:05d}"


def make_node(i: int) -> dict[str, Any]:
    """A worker node of realistic shape and size."""
    name = node_name(i)
    stamp = _stamp()
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64", "node-role.kubernetes.io/worker": "",
                "node.openshift.io/os_id": "rhcos", "topology.kubernetes.io/zone": f"z{i % 3}",
                "topology.kubernetes.io/region": "bench", "kubevirt.io/schedulable": "true",
                "cpumanager": "false", "node.kubernetes.io/instance-type": "bm.large",
                NFD_LABEL: "6",
            },
            "annotations": {
                "machineconfiguration.openshift.io/currentConfig": "rendered-worker-0123456789",
                "machineconfiguration.openshift.io/desiredConfig": "rendered-worker-0123456789",
                "machineconfiguration.openshift.io/state": "Done",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                "kubevirt.io/heartbeat": stamp,
            },
        },
        "spec": {"podCIDR": f"10.{i // 250 % 250}.{i % 250}.0/24",
                 "providerID": f"baremetal:///{name}"},
        "status": {
            "capacity": {"cpu": "64", "memory": "263921852Ki", "pods": "250",
                         "ephemeral-storage": "936104940Ki", "hugepages-1Gi": "0",
                         "hugepages-2Mi": "0", "devices.kubevirt.io/kvm": "1k",
                         "devices.kubevirt.io/tun": "1k", "devices.kubevirt.io/vhost-net": "1k",
                         EXTENDED_RESOURCE: "0"},
            "allocatable": {"cpu": "63500m", "memory": "262770876Ki", "pods": "250",
                            "ephemeral-storage": "862714311007", "hugepages-1Gi": "0",
                            "hugepages-2Mi": "0"},
            "conditions": [
                {"type": t, "status": s, "lastHeartbeatTime": stamp,
                 "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": f"Kubelet{t}",
                 "message": f"kubelet reports {t} {s}"}
                for t, s in (("MemoryPressure", "False"), ("DiskPressure", "False"),
                             ("PIDPressure", "False"), ("Ready", "True"))
            ],
            "addresses": [{"type": "InternalIP", "address": f"192.168.{i // 250}.{i % 250}"},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": uuid.UUID(int=i).hex, "systemUUID": str(uuid.UUID(int=i)),
                         "bootID": str(uuid.UUID(int=i + 1)), "kernelVersion": "5.14.0",
                         "osImage": "Red Hat Enterprise Linux CoreOS", "operatingSystem": "linux",
                         "architecture": "amd64", "containerRuntimeVersion": "cri-o://1.30",
                         "kubeletVersion": "v1.30.4", "kubeProxyVersion": "v1.30.4"},
            "images": [{"names": [f"quay.io/openshift/image-{j}@sha256:{j:064x}",
                                  f"quay.io/openshift/image-{j}:v4.17"],
                        "sizeBytes": 400_000_000 + j} for j in range(12)],
        },
    }


def make_configmap(i: int) -> dict[str, Any]:
    """An application ConfigMap nobody manages through the autopilot."""
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"bench-cm-{i:05d}", "namespace": f"bench-{i % CM_NAMESPACES:02d}",
                     "labels": {"app": f"app-{i % 97}"}},
        "data": {"config.yaml": f"replicas: {i % 5}\nname: app-{i}\n" + "x: y\n" * 20,
                 "version": "0"},
    }


def detection_change(i: int, visit: int) -> tuple[str, dict[str, Any]]:
    """(``metadata``/``status``/``spec``, merge patch) of node ``i``'s ``visit``-th change.

    The sort rotates by node and visit; each visit flips the value the last one set.
    """
    on = visit % 2 == 1
    sort = (i + visit // 2) % 3
    if sort == 0:
        return "metadata", {"metadata": {"labels": {NFD_LABEL: "25" if on else "6"}}}
    if sort == 1:
        return "status", {"status": {"capacity": {EXTENDED_RESOURCE: "1" if on else "0"}}}
    return "spec", {"spec": {"taints": [TAINT] if on else None}}


def _merge(obj: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 merge of ``patch`` into a copy of ``obj`` (for kubesim's store)."""
    out = dict(obj)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _heartbeat(node: dict[str, Any]) -> dict[str, Any]:
    stamp = _stamp()
    conditions = [{**c, "lastHeartbeatTime": stamp} for c in node["status"]["conditions"]]
    return _merge(node, {"status": {"conditions": conditions},
                         "metadata": {"annotations": {"kubevirt.io/heartbeat": stamp}}})


class Loader:
    """Bulk creates and churn writes: kubesim's store directly, else the API."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.sim = env.cluster.sim
        self._visits: dict[int, int] = {}

    def create_namespaces(self) -> None:
        """The namespaces the ConfigMaps live in."""
        for i in range(CM_NAMESPACES):
            self.env.cluster.api("POST", "/api/v1/namespaces", body={
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{i:02d}"}})

    def create(self, objs: list[dict[str, Any]]) -> None:
        """Create many objects (kubesim: defaulted and validated like a POST, no HTTP)."""
        if self.sim is not None:
            for start in range(0, len(objs), BATCH):
                self.sim.create_objects(objs[start:start + BATCH])
            return
        asyncio.run(self._post_all(objs))

    async def _post_all(self, objs: list[dict[str, Any]]) -> None:
        async with self.env.client() as client:
            async def post(o: dict[str, Any]) -> None:
                ns = o["metadata"].get("namespace")
                path = f"/api/v1/namespaces/{ns}/configmaps" if ns else "/api/v1/nodes"
                try:
                    await client.request("POST", path, body=o)
                except BenchApiError as exc:
                    if exc.status != 409:
                        raise
            await gather_limited([post(o) for o in objs], limit=32)

    async def churn(self, client: BenchClient, *, heartbeats: list[int], cms: list[int],
                    detection: list[int], n: int) -> None:
        """One second of churn: heartbeats and detection changes of these nodes, CM edits."""
        changes = []
        for i in detection:
            visit = self._visits[i] = self._visits.get(i, 0) + 1
            changes.append((i, *detection_change(i, visit)))
        if self.sim is not None:
            self._churn_sim(heartbeats, cms, changes, n)
        else:
            await self._churn_api(client, heartbeats, cms, changes, n)

    def _churn_sim(self, heartbeats: list[int], cms: list[int],
                   changes: list[tuple[int, str, dict[str, Any]]], n: int) -> None:
        assert self.sim is not None
        store = self.sim.state.store

        def write() -> None:
            node_edits = [(i, _heartbeat) for i in heartbeats] + [
                (i, lambda node, p=patch: _merge(node, p)) for i, _, patch in changes]
            for i, edit in node_edits:
                old = store.get(NODES_KEY, "", node_name(i))
                if old is not None:
                    store.commit(NODES_KEY, edit(old), change="MODIFIED", old=old)
            for i in cms:
                old = store.get(CM_KEY, f"bench-{i % CM_NAMESPACES:02d}", f"bench-cm-{i:05d}")
                if old is not None:
                    new = _merge(old, {"data": {"version": str(n)}})
                    store.commit(CM_KEY, new, change="MODIFIED", old=old)

        self.sim.call(write, timeout=30)

    @staticmethod
    async def _churn_api(client: BenchClient, heartbeats: list[int], cms: list[int],
                         changes: list[tuple[int, str, dict[str, Any]]], n: int) -> None:
        stamp = _stamp()
        reqs = [client.merge_patch(f"/api/v1/nodes/{node_name(i)}",
                                   {"metadata": {"annotations": {"kubevirt.io/heartbeat": stamp}}})
                for i in heartbeats]
        reqs += [client.merge_patch(
            f"/api/v1/nodes/{node_name(i)}" + ("/status" if part == "status" else ""), patch)
            for i, part, patch in changes]
        reqs += [client.merge_patch(
            f"/api/v1/namespaces/bench-{i % CM_NAMESPACES:02d}/configmaps/bench-cm-{i:05d}",
            {"data": {"version": str(n)}}) for i in cms]
        await gather_limited(reqs, limit=32)


class ManagedEdits:
    """Edits of managed objects at a fixed rate, round robin: drift, then another tool's mark."""

    def __init__(self, client: BenchClient, targets: list[Target]) -> None:
        self.client = client
        self.targets = targets
        self.sent = 0
        self.drifted: dict[tuple[str, str, str], Target] = {}
        self.rejected: list[str] = []

    async def one(self, n: int) -> None:
        """Edit number ``n``: even ones change a rendered value, odd ones add an annotation."""
        target = self.targets[(n // 2) % len(self.targets)]
        try:
            if n % 2 == 0:
                await self.client.json_patch(target.path,
                                             edit_ops(target, f"{target.original}-churn{n}"))
                self.drifted[target.key] = target
            else:
                await self.client.merge_patch(
                    target.path, {"metadata": {"annotations": {OTHER_TOOL: str(n)}}})
            self.sent += 1
        except BenchApiError as exc:
            self.rejected.append(f"{target.kind}/{target.name}: {str(exc)[:160]}")

    async def unrestored(self) -> list[str]:
        """Drifted objects whose rendered value is not back (read now)."""
        out = []
        for target in self.drifted.values():
            live = await self.client.request("GET", target.path)
            if get_pointer(live, target.pointer) != target.original:
                out.append(f"{target.kind}/{target.name}")
        return out
