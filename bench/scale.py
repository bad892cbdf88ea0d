"""Scale: controller RSS and CPU in a big cluster, at rest and while 1% of it churns each second.

The nodes look like real ones (labels, annotations, conditions, images: a few
KB each), so the informer's reduction matters; the ConfigMaps are unrelated to
the controller (no ownership label). kubesim is loaded through ``create_objects``
(no HTTP) and churned through its store; a real server through concurrent POSTs.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from bench.client import BenchApiError, gather_limited
from bench.env import (
    Env,
    LogTail,
    ProcSample,
    cpu_percent,
    proc_sample,
    wait_all_applied,
    wait_quiet,
)
from bench.modes import Mode
from bench.stats import summary

NODES_KEY, CM_KEY = ("", "nodes"), ("", "configmaps")
CM_NAMESPACES = 50
BATCH = 500
MB = 2**20


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def make_node(i: int) -> dict[str, Any]:
    """A worker node of realistic shape and size."""
    name = f"bench-node-{i:05d}"
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
                         "devices.kubevirt.io/tun": "1k", "devices.kubevirt.io/vhost-net": "1k"},
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


def _touch_node(node: dict[str, Any], n: int) -> dict[str, Any]:
    stamp = _stamp()
    conditions = [{**c, "lastHeartbeatTime": stamp} for c in node["status"]["conditions"]]
    status = {**node["status"], "conditions": conditions}
    meta = {**node["metadata"],
            "annotations": {**node["metadata"]["annotations"], "kubevirt.io/heartbeat": stamp}}
    return {**node, "metadata": meta, "status": status}


def _touch_configmap(cm: dict[str, Any], n: int) -> dict[str, Any]:
    return {**cm, "data": {**cm["data"], "version": str(n)}}


class Loader:
    """Bulk creates and churn writes: kubesim's store directly, else the API."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.sim = env.cluster.sim

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

    def churn(self, nodes: list[int], cms: list[int], n: int) -> None:
        """Modify these nodes and ConfigMaps (by index) once."""
        if self.sim is not None:
            store = self.sim.state.store

            def write() -> None:
                for i in nodes:
                    old = store.get(NODES_KEY, "", f"bench-node-{i:05d}")
                    if old is not None:
                        store.commit(NODES_KEY, _touch_node(old, n), change="MODIFIED", old=old)
                for i in cms:
                    old = store.get(CM_KEY, f"bench-{i % CM_NAMESPACES:02d}", f"bench-cm-{i:05d}")
                    if old is not None:
                        store.commit(CM_KEY, _touch_configmap(old, n), change="MODIFIED",
                                     old=old)

            self.sim.call(write, timeout=30)
            return
        asyncio.run(self._patch_all(nodes, cms, n))

    async def _patch_all(self, nodes: list[int], cms: list[int], n: int) -> None:
        stamp = _stamp()
        async with self.env.client() as client:
            reqs = [client.merge_patch(f"/api/v1/nodes/bench-node-{i:05d}",
                                       {"metadata": {"annotations": {"kubevirt.io/heartbeat":
                                                                     stamp}}})
                    for i in nodes]
            reqs += [client.merge_patch(
                f"/api/v1/namespaces/bench-{i % CM_NAMESPACES:02d}/configmaps/bench-cm-{i:05d}",
                {"data": {"version": str(n)}}) for i in cms]
            await gather_limited(reqs, limit=32)


def run(env: Env, mode: Mode) -> dict[str, Any]:
    """Load the cluster, start the controller, watch RSS/CPU at rest and under churn."""
    loader = Loader(env)
    t0 = time.monotonic()
    loader.create_namespaces()
    loader.create([make_node(i) for i in range(mode.nodes)])
    loader.create([make_configmap(i) for i in range(mode.configmaps)])
    load_s = time.monotonic() - t0

    controller, started = env.start_controller()
    tail = LogTail(controller.log_path)
    done = wait_all_applied(env, controller, tail, timeout=240)
    wait_quiet(tail, quiet=2.0, timeout=120)
    assert controller.proc is not None
    pid = controller.proc.pid

    rest = _sample(pid, mode.scale_rest_s)
    churn_samples: list[ProcSample] = [proc_sample(pid)]
    node_step = max(1, mode.nodes // 100)
    cm_step = max(1, mode.configmaps // 100)
    lag = 0.0
    tick0 = time.monotonic()
    for n in range(1, int(mode.scale_churn_s) + 1):
        # 1% per second, a different slice each second.
        nodes = [(n * node_step + k) % mode.nodes for k in range(node_step)]
        cms = [(n * cm_step + k) % mode.configmaps for k in range(cm_step)]
        loader.churn(nodes, cms, n)
        delay = tick0 + n - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            lag = max(lag, -delay)
        churn_samples.append(proc_sample(pid))
    controller._check_alive()

    rest_rss = [s.rss / MB for s in rest]
    churn_rss = [s.rss / MB for s in churn_samples]
    peak = max(rest_rss + churn_rss)
    growth = churn_rss[-1] - churn_rss[0]
    return {
        "nodes": mode.nodes,
        "configmaps": mode.configmaps,
        "load_s": round(load_s, 1),
        "cold_start_s": round(done - started, 2),
        "rest": {"seconds": mode.scale_rest_s, "rss_mb": summary(rest_rss),
                 "cpu_percent_of_core": round(cpu_percent(rest[0], rest[-1]), 2)},
        "churn": {"seconds": mode.scale_churn_s,
                  "writes_per_s": node_step + cm_step,
                  "rss_mb_start": round(churn_rss[0], 1), "rss_mb_end": round(churn_rss[-1], 1),
                  "rss_mb_max": round(max(churn_rss), 1),
                  "cpu_percent_of_core": round(cpu_percent(churn_samples[0],
                                                           churn_samples[-1]), 2),
                  "writer_lag_s": round(lag, 2)},
        "peak_rss_mb_hwm": round(churn_samples[-1].hwm / MB, 1),
        "target": "RSS <= 100 MB, flat while churning",
        "met": peak <= 100 and growth <= 5,
    }


def _sample(pid: int, seconds: float) -> list[ProcSample]:
    samples = [proc_sample(pid)]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(1.0, max(0.05, end - time.monotonic())))
        samples.append(proc_sample(pid))
    return samples
