"""The platform every benchmark runs on: all features opted in.

CRDs are the published schemas (:mod:`bench.crds`); nodes are three schedulable
masters and three workers (one with a PCI device) so hardware and topology
conditions hold, with the OpenShift ``Infrastructure`` and ``Scheduler``
objects saying the same; the HyperConverged carries every ``annotation``
condition of the catalogue plus the feature gates the ``feature-gate``
conditions ask for (as far as the HCO schema keeps them), and the controller
gets every related image the ``image`` conditions ask for. The expected objects
are what the planner (the same code path as ``autopilot render``) says the
objects *as the server stored them* render: a field the schema prunes counts
as never sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autopilot.demo import target_namespaces
from autopilot.golden import context as gcontext
from autopilot.golden import gate as ggate
from autopilot.golden import plan as gplan
from autopilot.golden.catalog import GoldenState, load_golden_state
from autopilot.golden.locate import resolve_golden_state_dir
from autopilot.golden.lookups import OfflineLookups
from autopilot.kube.resources import ObjectRef
from bench.crds import install, platform_crds

HCO_NS = "openshift-cnv"
HCO_NAME = "kubevirt-hyperconverged"
HCO_PATH = f"/apis/hco.kubevirt.io/v1/namespaces/{HCO_NS}/hyperconvergeds/{HCO_NAME}"
CONFIG_API = "/apis/config.openshift.io/v1"
ACTIVATION = "platform.kubevirt.io/autopilot"
RELATED_IMAGE = "RELATED_IMAGE_"


@dataclass
class PlatformSpec:
    """What gets seeded and what the controller should then apply."""

    golden: GoldenState
    hco: dict[str, Any]
    nodes: list[dict[str, Any]]
    env: dict[str, str]
    crds: list[dict[str, Any]]
    namespaces: list[str]
    infrastructure: dict[str, Any] = field(default_factory=dict)
    scheduler: dict[str, Any] = field(default_factory=dict)
    expected: list[dict[str, Any]] = field(default_factory=list)
    # (kind, namespace, name) of the objects the templates read: an edit of one is an
    # input of its render (a user's settings merged in), which the controller keeps.
    read_by_templates: set[tuple[str, str, str]] = field(default_factory=set)

    def expected_refs(self) -> set[ObjectRef]:
        """Refs of every object the controller should apply."""
        return {ObjectRef.of(o) for o in self.expected}


def _node(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                              "kubernetes.io/os": "linux", **labels}},
        "status": {"capacity": {"cpu": "32", "memory": "128Gi", "pods": "250"},
                   "allocatable": {"cpu": "31500m", "memory": "120Gi", "pods": "250"}},
    }


def platform_nodes() -> list[dict[str, Any]]:
    """Three schedulable masters (labelled workers too, as OpenShift does) and three workers."""
    masters = [_node(f"master-{i}", {"node-role.kubernetes.io/master": "",
                                     "node-role.kubernetes.io/control-plane": "",
                                     "node-role.kubernetes.io/worker": ""}) for i in range(3)]
    workers = [_node(f"worker-{i}", {"node-role.kubernetes.io/worker": ""}) for i in range(3)]
    workers[0]["metadata"]["labels"]["feature.node.kubernetes.io/pci-present"] = "true"
    return masters + workers


def opt_in(golden: GoldenState) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """(HCO annotations, feature gates, environment) that satisfy every opt-in condition."""
    # A storage class for the storage-based remediation config, which renders nothing
    # without one (offline there is no StorageProfile to find it from).
    annotations = {ACTIVATION: "true", "platform.kubevirt.io/sbr-storage-class": "bench-rwx"}
    gates: set[str] = set()
    env: dict[str, str] = {}
    for asset in golden.assets:
        for cond in asset.conditions:
            if cond.type == "annotation" and cond.key != ACTIVATION:
                annotations[cond.key] = cond.value or "true"
            elif cond.type == "feature-gate":
                gates.add(cond.value)
            elif cond.type == "image":
                env[RELATED_IMAGE + cond.key] = f"quay.io/bench/{cond.key.lower()}:latest"
    return annotations, sorted(gates), env


def _config_objects() -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenShift Infrastructure and Scheduler ``cluster`` objects of this platform."""
    infrastructure = {
        "apiVersion": "config.openshift.io/v1", "kind": "Infrastructure",
        "metadata": {"name": "cluster"}, "spec": {"platformSpec": {"type": "BareMetal"}},
        "status": {"controlPlaneTopology": "HighlyAvailable",
                   "infrastructureTopology": "HighlyAvailable", "platform": "BareMetal",
                   "platformStatus": {"type": "BareMetal"}, "infrastructureName": "bench",
                   "apiServerURL": "https://api.bench:6443",
                   "apiServerInternalURI": "https://api-int.bench:6443",
                   "etcdDiscoveryDomain": "", "cpuPartitioning": "None"},
    }
    scheduler = {"apiVersion": "config.openshift.io/v1", "kind": "Scheduler",
                 "metadata": {"name": "cluster"}, "spec": {"mastersSchedulable": True}}
    return infrastructure, scheduler


def build_platform(golden_dir: Path | None = None) -> PlatformSpec:
    """The all-features platform (its expected objects are filled in by :func:`seed`)."""
    golden = load_golden_state(resolve_golden_state_dir(golden_dir))
    annotations, gates, env = opt_in(golden)
    hco = {
        "apiVersion": "hco.kubevirt.io/v1", "kind": "HyperConverged",
        "metadata": {"name": HCO_NAME, "namespace": HCO_NS, "annotations": annotations},
        "spec": {"featureGates": [{"name": g, "state": "Enabled"} for g in gates]},
    }
    infrastructure, scheduler = _config_objects()
    return PlatformSpec(golden=golden, hco=hco, nodes=platform_nodes(), env=env,
                        crds=platform_crds(golden), namespaces=target_namespaces(golden),
                        infrastructure=infrastructure, scheduler=scheduler)


def expected_objects(spec: PlatformSpec, *, hco: dict[str, Any],
                     infrastructure: dict[str, Any] | None,
                     scheduler: dict[str, Any] | None) -> list[dict[str, Any]]:
    """What the planner renders for these (stored) objects and the platform's nodes.

    Also notes in ``spec.read_by_templates`` which objects the templates looked up.
    """
    ctx = gcontext.build_context(hco=hco, nodes=spec.nodes, infrastructure=infrastructure,
                                 scheduler=scheduler, environ=spec.env,
                                 version=spec.golden.version, namespace=HCO_NS)
    lookups = _RecordingLookups()
    plans = gplan.plan_all(spec.golden, ctx, activation=ggate.activation_for(hco, spec.golden),
                           lookups=lookups)
    spec.read_by_templates = lookups.read
    return [o for p in plans if p.included and not p.error for o in p.objects]


class _RecordingLookups(OfflineLookups):
    """Offline lookups that note which objects the templates read."""

    def __init__(self) -> None:
        self.read: set[tuple[str, str, str]] = set()

    def object_exists(self, api_version: str, kind: str, name: str, namespace: str = "") -> bool:
        self.read.add((kind, namespace, name))
        return super().object_exists(api_version, kind, name, namespace)

    def configmap_value(self, namespace: str, name: str, key: str, default: str = "") -> str:
        self.read.add(("ConfigMap", namespace, name))
        return super().configmap_value(namespace, name, key, default)

    def get_object(
        self, api_version: str, kind: str, name: str, namespace: str = ""
    ) -> dict[str, Any] | None:
        self.read.add((kind, namespace, name))
        return super().get_object(api_version, kind, name, namespace)


def seed(cluster: Any, spec: PlatformSpec) -> None:
    """Install CRDs, namespaces, nodes, config objects and the HCO into ``cluster``.

    Then sets ``spec.expected`` from the objects as the server stored them.
    """
    install(cluster, spec.crds)
    for ns in spec.namespaces:
        _create(cluster, "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for node in spec.nodes:
        _create(cluster, "/api/v1/nodes", node)
    _create(cluster, f"{CONFIG_API}/infrastructures", spec.infrastructure)
    _put_status(cluster, f"{CONFIG_API}/infrastructures/cluster", spec.infrastructure)
    _create(cluster, f"{CONFIG_API}/schedulers", spec.scheduler)
    _create(cluster, f"/apis/hco.kubevirt.io/v1/namespaces/{HCO_NS}/hyperconvergeds", spec.hco)
    spec.expected = expected_objects(
        spec, hco=_get(cluster, HCO_PATH),
        infrastructure=_get(cluster, f"{CONFIG_API}/infrastructures/cluster"),
        scheduler=_get(cluster, f"{CONFIG_API}/schedulers/cluster"))


def _create(cluster: Any, path: str, body: dict[str, Any]) -> None:
    status, answer = cluster.api("POST", path, body=body)
    if status not in (201, 409):
        raise RuntimeError(f"creating {body.get('kind')} "
                           f"{body['metadata']['name']}: HTTP {status} {str(answer)[:300]}")


def _put_status(cluster: Any, path: str, body: dict[str, Any]) -> None:
    status, answer = cluster.api("PATCH", path + "/status", body={"status": body["status"]},
                                 content_type="application/merge-patch+json")
    if status != 200:
        raise RuntimeError(f"setting the status of {path}: HTTP {status} {str(answer)[:300]}")


def _get(cluster: Any, path: str) -> dict[str, Any]:
    status, answer = cluster.api("GET", path)
    if status != 200 or not isinstance(answer, dict):
        raise RuntimeError(f"reading {path}: HTTP {status} {str(answer)[:300]}")
    return answer
