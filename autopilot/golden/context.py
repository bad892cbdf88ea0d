"""The render context: what templates and conditions know about the cluster.

Built from the HCO, the (reduced) nodes, and the OpenShift ``Infrastructure`` and
``Scheduler`` objects named ``cluster`` when those kinds exist. A cluster without the
OpenShift config kinds is normal: topology then comes from node roles, quietly.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from autopilot.golden.catalog import HARDWARE_DETECTORS
from autopilot.golden.lookups import Lookups, ObjectLookups, OfflineLookups, SnapshotLookups

__all__ = [
    "Lookups",
    "NodesSummary",
    "ObjectLookups",
    "OfflineLookups",
    "ReducedNode",
    "RenderContext",
    "SnapshotLookups",
    "build_context",
    "context_of",
    "detect_hardware",
    "detect_topology",
    "reduce_node",
    "related_images",
    "topology_of",
]

MASTER_ROLE_LABELS = ("node-role.kubernetes.io/master", "node-role.kubernetes.io/control-plane")
WORKER_ROLE_LABEL = "node-role.kubernetes.io/worker"
RELATED_IMAGE_PREFIX = "RELATED_IMAGE_"

# What the node informer must keep (see reduce_node): labels under these prefixes,
# these annotations, extended-resource capacity keys (with a "/"), and NoSchedule /
# NoExecute taints (for "masters schedulable" when no Scheduler object exists).
NODE_LABEL_PREFIXES = ("node-role.kubernetes.io/", "feature.node.kubernetes.io/")
NODE_ANNOTATIONS = ("kubevirt.io/topology-manager-policy",)
# KubeVirt's own device plugins are on every virtualization node; they are not PCI devices.
_NON_PCI_RESOURCE_PREFIXES = ("devices.kubevirt.io/", "kubernetes.io/")
GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu", "gpu.intel.com/i915")
# Node Feature Discovery labels a node's PCI devices pci-<class>_<vendor>.present=true.
NFD_PCI_PREFIX = "feature.node.kubernetes.io/pci-"


class ReducedNode(dict[str, Any]):
    """A node as :func:`reduce_node` keeps it (a plain dict of the node's shape).

    Its labels, annotations, spec and status are shared by every reduced node with
    the same content: the workers of a pool look alike, and 5,000 of them then hold
    one copy of each instead of 5,000 (about 1 KB a node). Like every cached object
    they are read, never changed.
    """

    __slots__ = ()


class _SharedDict(dict[str, Any]):
    """A part of reduced nodes shared by content (weakly referenced: see _shared)."""

    __slots__ = ("__weakref__",)


# Content -> the one part holding it; a part nobody holds any more leaves by itself.
_SHARED: weakref.WeakValueDictionary[tuple[Any, ...], _SharedDict] = (
    weakref.WeakValueDictionary()
)


def _shared(key: tuple[Any, ...], make: Callable[[], dict[str, Any]]) -> _SharedDict:
    found = _SHARED.get(key)
    if found is None:  # two threads may both build one: each node still reads its content
        found = _SharedDict(make())
        _SHARED[key] = found
    return found


def reduce_node(node: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only what hardware/topology detection reads (idempotent).

    The runtime's node informer calls this as its transform so the cache stays small and
    a heartbeat-only status change compares equal (ignoring ``resourceVersion``).
    Kept: ``metadata.name``, ``metadata.resourceVersion``, role and NFD labels, the
    topology-manager annotation, extended-resource ``status.capacity`` keys and
    NoSchedule/NoExecute ``spec.taints`` (key and effect). The result is a
    :class:`ReducedNode`, whose parts other reduced nodes may share.
    """
    if isinstance(node, ReducedNode):
        return node
    meta = node.get("metadata") or {}
    labels = {
        k: str(v)
        for k, v in sorted((meta.get("labels") or {}).items())
        if k.startswith(NODE_LABEL_PREFIXES)
    }
    annotations = {
        k: str(v)
        for k, v in sorted((meta.get("annotations") or {}).items())
        if k in NODE_ANNOTATIONS
    }
    capacity = {
        k: str(v)
        for k, v in sorted(((node.get("status") or {}).get("capacity") or {}).items())
        if "/" in k
    }
    taints = [
        {"key": str(t.get("key", "")), "effect": str(t.get("effect", ""))}
        for t in ((node.get("spec") or {}).get("taints") or [])
        if isinstance(t, Mapping) and t.get("effect") in ("NoSchedule", "NoExecute")
    ]
    pairs = tuple((t["key"], t["effect"]) for t in taints)
    reduced_meta: dict[str, Any] = {"name": str(meta.get("name", ""))}
    if meta.get("resourceVersion"):
        reduced_meta["resourceVersion"] = str(meta["resourceVersion"])
    reduced_meta["labels"] = _shared(("labels", *labels.items()), lambda: labels)
    reduced_meta["annotations"] = _shared(("annotations", *annotations.items()),
                                          lambda: annotations)
    return ReducedNode(
        metadata=reduced_meta,
        spec=_shared(("spec", *pairs), lambda: {"taints": taints}),
        status=_shared(("status", *capacity.items()), lambda: {"capacity": capacity}),
    )


@dataclass(frozen=True)
class RenderContext:
    """Everything a template or condition may read (see golden-state.md §1)."""

    hco: Mapping[str, Any]
    namespace: str
    hardware: Mapping[str, bool] = field(default_factory=dict)
    topology: Mapping[str, Any] = field(default_factory=dict)
    images: Mapping[str, str] = field(default_factory=dict)
    version: str = ""

    @property
    def annotations(self) -> Mapping[str, str]:
        """The HCO's annotations (empty when none)."""
        meta = self.hco.get("metadata") or {}
        return meta.get("annotations") or {}

    def variables(self, *, asset: str, params: Mapping[str, str]) -> dict[str, Any]:
        """Template variables; copies, so a template can never alter the context."""
        return {
            "hco": copy.deepcopy(dict(self.hco)),
            "namespace": self.namespace,
            "hardware": dict(self.hardware),
            "topology": dict(self.topology),
            "images": dict(self.images),
            "params": dict(params),
            "asset": asset,
            "version": self.version,
        }


def _is_master(node: Mapping[str, Any]) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    return any(k in labels for k in MASTER_ROLE_LABELS)


def _is_worker(node: Mapping[str, Any]) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    return WORKER_ROLE_LABEL in labels or not _is_master(node)


def _master_schedulable(node: Mapping[str, Any]) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    if WORKER_ROLE_LABEL in labels:  # OpenShift labels schedulable masters as workers too
        return True
    taints = (node.get("spec") or {}).get("taints") or []
    return not any(
        t.get("effect") == "NoSchedule" and t.get("key") in MASTER_ROLE_LABELS for t in taints
    )


def _quantity_nonzero(value: Any) -> bool:
    text = str(value).strip()
    return bool(text) and text.strip("0.") != ""


def _has_nfd_pci_label(labels: Mapping[str, Any]) -> bool:
    """NFD's PCI labels: ``pci-present`` or ``pci-<class>_<vendor>.present=true``."""
    return any(
        key == NFD_PCI_PREFIX + "present"
        or (key.startswith(NFD_PCI_PREFIX) and str(value).lower() == "true")
        for key, value in labels.items()
    )


def detect_hardware(nodes: Iterable[Mapping[str, Any]]) -> dict[str, bool]:
    """Hardware detectors: true when any node shows the feature."""
    found = dict.fromkeys(HARDWARE_DETECTORS, False)
    for node in nodes:
        meta = node.get("metadata") or {}
        labels = meta.get("labels") or {}
        annotations = meta.get("annotations") or {}
        capacity = (node.get("status") or {}).get("capacity") or {}
        extended = [
            k
            for k, v in capacity.items()
            if "/" in k and not k.startswith(_NON_PCI_RESOURCE_PREFIXES) and _quantity_nonzero(v)
        ]
        if _has_nfd_pci_label(labels) or extended:
            found["pciDevicesPresent"] = True
        if (
            "feature.node.kubernetes.io/cpu-hardware_multithreading" in labels
            or "kubevirt.io/topology-manager-policy" in annotations
        ):
            found["numaNodesPresent"] = True
        if str(labels.get("feature.node.kubernetes.io/iommu-enabled", "")).lower() == "true":
            found["vfioCapable"] = True
        if "feature.node.kubernetes.io/usb-present" in labels:
            found["usbDevicesPresent"] = True
        if any(_quantity_nonzero(capacity.get(k, "")) for k in GPU_RESOURCES):
            found["gpuPresent"] = True
    return found


@dataclass(frozen=True, slots=True)
class NodesSummary:
    """What hardware and topology detection read from the nodes, in one O(nodes) pass.

    The controller takes it once per node change that detection can see and reuses
    it for every render in between; the OpenShift config objects are applied on top
    by :func:`topology_of`, which is cheap.
    """

    hardware: Mapping[str, bool] = field(
        default_factory=lambda: dict.fromkeys(HARDWARE_DETECTORS, False)
    )
    masters: int = 0
    workers: int = 0
    total: int = 0
    # Whether a master takes workloads judging by node roles and taints alone (what
    # applies when no Scheduler object says).
    masters_schedulable: bool = False

    @classmethod
    def of(cls, nodes: Iterable[Mapping[str, Any]]) -> NodesSummary:
        """Summarise nodes, raw or already reduced (those are read as they are)."""
        reduced = [reduce_node(n) for n in nodes]  # no copy of the cache's reduced nodes
        masters = [n for n in reduced if _is_master(n)]
        return cls(
            hardware=detect_hardware(reduced),
            masters=len(masters),
            workers=sum(1 for n in reduced if _is_worker(n)),
            total=len(reduced),
            masters_schedulable=any(_master_schedulable(n) for n in masters),
        )


def detect_topology(
    nodes: Iterable[Mapping[str, Any]],
    *,
    infrastructure: Mapping[str, Any] | None = None,
    scheduler: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Topology facts; OpenShift config objects win, node roles fill the gaps."""
    return topology_of(
        NodesSummary.of(nodes), infrastructure=infrastructure, scheduler=scheduler
    )


def topology_of(
    nodes: NodesSummary,
    *,
    infrastructure: Mapping[str, Any] | None = None,
    scheduler: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Topology facts from a node summary and the Infrastructure and Scheduler objects."""
    master_count, worker_count, node_count = nodes.masters, nodes.workers, nodes.total
    status = (infrastructure or {}).get("status") or {}

    control_plane = str(status.get("controlPlaneTopology") or "")
    if not control_plane and node_count:
        if master_count == 0:
            control_plane = "External"  # control plane not visible as nodes: hosted
        else:
            control_plane = "SingleReplica" if master_count == 1 else "HighlyAvailable"
    infra_topology = str(status.get("infrastructureTopology") or "")
    if not infra_topology and node_count:
        infra_topology = "SingleReplica" if node_count == 1 else "HighlyAvailable"
    platform = str(
        ((status.get("platformStatus") or {}).get("type")) or status.get("platform") or ""
    )

    spec = (scheduler or {}).get("spec") or {}
    if isinstance(spec.get("mastersSchedulable"), bool):
        schedulable = bool(spec["mastersSchedulable"]) and (master_count > 0 or not node_count)
    else:
        schedulable = nodes.masters_schedulable
    is_hcp = control_plane == "External"
    return {
        "controlPlaneTopology": control_plane,
        "infrastructureTopology": infra_topology,
        "isHCP": is_hcp,
        "platform": platform,
        "isAWS": platform == "AWS",
        "hasSchedulableMasters": schedulable,
        # no dedicated workers: every node is a schedulable master (compact or single node)
        "isCompact": master_count > 0 and schedulable and master_count == node_count,
        "masterCount": master_count,
        "workerCount": worker_count,
        "nodeCount": node_count,
    }


def related_images(environ: Mapping[str, str]) -> dict[str, str]:
    """``RELATED_IMAGE_FOO_BAR=img`` -> ``{"FOO_BAR": "img"}`` (empty values ignored)."""
    return {
        key[len(RELATED_IMAGE_PREFIX) :]: value
        for key, value in sorted(environ.items())
        if key.startswith(RELATED_IMAGE_PREFIX) and len(key) > len(RELATED_IMAGE_PREFIX) and value
    }


def build_context(
    *,
    hco: Mapping[str, Any],
    nodes: Iterable[Mapping[str, Any]],
    infrastructure: Mapping[str, Any] | None = None,
    scheduler: Mapping[str, Any] | None = None,
    environ: Mapping[str, str],
    version: str,
    namespace: str,
) -> RenderContext:
    """Assemble a :class:`RenderContext`; ``nodes`` may be raw or already reduced."""
    return context_of(
        hco=hco,
        nodes=NodesSummary.of(nodes),
        infrastructure=infrastructure,
        scheduler=scheduler,
        environ=environ,
        version=version,
        namespace=namespace,
    )


def context_of(
    *,
    hco: Mapping[str, Any],
    nodes: NodesSummary,
    infrastructure: Mapping[str, Any] | None,
    scheduler: Mapping[str, Any] | None,
    environ: Mapping[str, str],
    version: str,
    namespace: str,
) -> RenderContext:
    """Assemble a :class:`RenderContext` from a node summary (see :class:`NodesSummary`)."""
    return RenderContext(
        hco=copy.deepcopy(dict(hco)),
        namespace=namespace,
        hardware=dict(nodes.hardware),
        topology=topology_of(nodes, infrastructure=infrastructure, scheduler=scheduler),
        images=related_images(environ),
        version=version,
    )
