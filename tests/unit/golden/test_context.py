"""Render context: node reduction, hardware detectors, topology, related images."""

from __future__ import annotations

import gc
import json
import tracemalloc
from typing import Any

from autopilot.golden.context import (
    NodesSummary,
    build_context,
    detect_hardware,
    detect_topology,
    reduce_node,
    related_images,
)


def node(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    capacity: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "resourceVersion": "7",
            "labels": {"kubernetes.io/hostname": name, **(labels or {})},
            "annotations": {"noise": "x", **(annotations or {})},
        },
        "spec": {"taints": taints or [], "podCIDR": "10.0.0.0/24"},
        "status": {
            "capacity": {"cpu": "8", "memory": "32Gi", **(capacity or {})},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


MASTER = "node-role.kubernetes.io/master"
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
WORKER = "node-role.kubernetes.io/worker"
NO_SCHEDULE = {"key": MASTER, "effect": "NoSchedule"}


def test_reduce_node_keeps_only_what_detection_reads() -> None:
    raw = node(
        "n1",
        labels={WORKER: "", "feature.node.kubernetes.io/pci-present": "true"},
        annotations={"kubevirt.io/topology-manager-policy": "single-numa-node"},
        capacity={"nvidia.com/gpu": "1", "devices.kubevirt.io/kvm": "1k"},
        taints=[NO_SCHEDULE, {"key": "x", "effect": "PreferNoSchedule"}],
    )
    reduced = reduce_node(raw)
    assert reduced == {
        "metadata": {
            "name": "n1",
            "resourceVersion": "7",
            "labels": {"feature.node.kubernetes.io/pci-present": "true", WORKER: ""},
            "annotations": {"kubevirt.io/topology-manager-policy": "single-numa-node"},
        },
        "spec": {"taints": [NO_SCHEDULE]},
        "status": {"capacity": {"devices.kubevirt.io/kvm": "1k", "nvidia.com/gpu": "1"}},
    }
    assert reduce_node(reduced) == reduced  # idempotent


def pool(count: int, *, gpu: str = "0") -> list[dict[str, Any]]:
    """Workers of one pool, each decoded apart as a watch delivers them."""
    return [json.loads(json.dumps(node(f"w{i}", labels={WORKER: ""},
                                       capacity={"nvidia.com/gpu": gpu})))
            for i in range(count)]


def test_reduced_nodes_of_a_pool_share_their_parts() -> None:
    reduced = [reduce_node(n) for n in pool(3)]
    first = reduced[0]
    for other in reduced[1:]:
        assert other["metadata"]["labels"] is first["metadata"]["labels"]
        assert other["metadata"]["annotations"] is first["metadata"]["annotations"]
        assert other["spec"] is first["spec"] and other["status"] is first["status"]
        assert other["metadata"] is not first["metadata"]  # name and resourceVersion
    # A node with other content gets its own part, and the pool's stays as it was.
    gpu = reduce_node(pool(1, gpu="2")[0])
    assert gpu["status"] is not first["status"]
    assert first["status"] == {"capacity": {"nvidia.com/gpu": "0"}}
    assert gpu["status"] == {"capacity": {"nvidia.com/gpu": "2"}}
    assert reduce_node(first) is first


def test_a_big_pool_costs_a_few_hundred_bytes_a_node() -> None:
    # Measured: 1,230 bytes a node when every node had its own parts, 380 shared.
    raw = pool(2000)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        reduced = [reduce_node(n) for n in raw]
        per_node = (tracemalloc.get_traced_memory()[0] - before) / len(reduced)
        tracemalloc.reset_peak()
        summary = NodesSummary.of(reduced)
        copied = tracemalloc.get_traced_memory()[1] - before - per_node * len(reduced)
    finally:
        tracemalloc.stop()
    assert per_node < 500, per_node
    assert copied < 100_000, copied  # the summary reads the cache's nodes, no copy
    assert (summary.workers, summary.total) == (2000, 2000)


def test_hardware_detectors() -> None:
    assert detect_hardware([]) == dict.fromkeys(
        ["pciDevicesPresent", "numaNodesPresent", "vfioCapable", "usbDevicesPresent",
         "gpuPresent"], False
    )
    kubevirt_only = node("a", capacity={"devices.kubevirt.io/kvm": "1k"})
    assert not detect_hardware([kubevirt_only])["pciDevicesPresent"]
    hw = detect_hardware(
        [
            node("a", capacity={"intel.com/sriov": "4"}),
            node("b", labels={"feature.node.kubernetes.io/cpu-hardware_multithreading": "true"}),
            node("c", labels={"feature.node.kubernetes.io/iommu-enabled": "true",
                              "feature.node.kubernetes.io/usb-present": "true"}),
            node("d", capacity={"amd.com/gpu": "2"}),
        ]
    )
    assert all(hw.values())
    assert not detect_hardware([node("x", labels={"feature.node.kubernetes.io/iommu-enabled":
                                                  "false"})])["vfioCapable"]
    assert not detect_hardware([node("x", capacity={"nvidia.com/gpu": "0"})])["gpuPresent"]
    numa = detect_hardware([node("x", annotations={"kubevirt.io/topology-manager-policy": "x"})])
    assert numa["numaNodesPresent"]


def test_topology_from_nodes_only() -> None:
    masters = [node(f"m{i}", labels={MASTER: ""}, taints=[NO_SCHEDULE]) for i in range(3)]
    workers = [node(f"w{i}", labels={WORKER: ""}) for i in range(2)]
    topo = detect_topology([reduce_node(n) for n in masters + workers])
    assert topo == {
        "controlPlaneTopology": "HighlyAvailable",
        "infrastructureTopology": "HighlyAvailable",
        "isHCP": False,
        "platform": "",
        "isAWS": False,
        "hasSchedulableMasters": False,
        "isCompact": False,
        "masterCount": 3,
        "workerCount": 2,
        "nodeCount": 5,
    }


def test_compact_and_single_node() -> None:
    compact = [node(f"m{i}", labels={MASTER: "", WORKER: ""}) for i in range(3)]
    topo = detect_topology(compact)
    assert topo["hasSchedulableMasters"] and topo["isCompact"] and topo["masterCount"] == 3
    sno = detect_topology([node("sno", labels={CONTROL_PLANE: ""})])
    assert sno["controlPlaneTopology"] == "SingleReplica"
    assert sno["infrastructureTopology"] == "SingleReplica"
    assert sno["hasSchedulableMasters"] and sno["isCompact"]


def test_hosted_control_plane_from_nodes() -> None:
    topo = detect_topology([node("w1", labels={WORKER: ""}), node("w2", labels={WORKER: ""})])
    assert topo["isHCP"] and topo["controlPlaneTopology"] == "External"
    assert not topo["hasSchedulableMasters"]


def test_no_nodes_is_quiet() -> None:
    topo = detect_topology([])
    assert topo["nodeCount"] == 0 and topo["controlPlaneTopology"] == "" and not topo["isHCP"]


def test_openshift_config_objects_win() -> None:
    masters = [node(f"m{i}", labels={MASTER: ""}) for i in range(3)]  # no taints kept
    infra = {
        "status": {
            "controlPlaneTopology": "HighlyAvailable",
            "infrastructureTopology": "HighlyAvailable",
            "platformStatus": {"type": "AWS"},
            "platform": "AWS",
        }
    }
    scheduler = {"spec": {"mastersSchedulable": False}}
    topo = detect_topology(masters, infrastructure=infra, scheduler=scheduler)
    assert topo["isAWS"] and topo["platform"] == "AWS"
    assert not topo["hasSchedulableMasters"]
    hcp = detect_topology(masters, infrastructure={"status": {"controlPlaneTopology": "External",
                                                              "platform": "None"}})
    assert hcp["isHCP"] and hcp["platform"] == "None"


def test_related_images() -> None:
    env = {"RELATED_IMAGE_FOO_BAR": "quay.io/foo:1", "RELATED_IMAGE_EMPTY": "", "PATH": "/bin",
           "RELATED_IMAGE_": "x"}
    assert related_images(env) == {"FOO_BAR": "quay.io/foo:1"}


def test_build_context_copies_and_reduces() -> None:
    hco = {"metadata": {"annotations": {"a": "b"}}, "spec": {}}
    ctx = build_context(
        hco=hco,
        nodes=[node("w", labels={WORKER: "", "feature.node.kubernetes.io/usb-present": "1"})],
        environ={"RELATED_IMAGE_X": "img"},
        version="9",
        namespace="ns",
    )
    hco["metadata"]["annotations"]["a"] = "changed"
    assert ctx.annotations == {"a": "b"}
    assert ctx.hardware["usbDevicesPresent"] and ctx.images == {"X": "img"}
    variables = ctx.variables(asset="x", params={"role": "worker"})
    assert set(variables) == {"hco", "namespace", "hardware", "topology", "images", "params",
                              "asset", "version"}
    variables["hco"]["metadata"]["annotations"]["a"] = "mutated"
    assert ctx.annotations == {"a": "b"}
