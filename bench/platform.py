"""The platform every benchmark runs on: all features opted in.

CRDs are the demo's schema-less stand-ins for every custom kind the golden
state renders; nodes are three schedulable masters and three workers (one with
a PCI device) so hardware and topology conditions hold; the HyperConverged
carries every ``annotation`` condition of the catalogue plus the feature gates
the ``feature-gate`` conditions ask for, and the controller gets every related
image the ``image`` conditions ask for. The expected objects are what the
offline planner (the same code path as ``autopilot render``) says this platform
renders.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autopilot.demo import minimal_crds, target_namespaces
from autopilot.golden import context as gcontext
from autopilot.golden import gate as ggate
from autopilot.golden import plan as gplan
from autopilot.golden.catalog import GoldenState, load_golden_state
from autopilot.golden.locate import resolve_golden_state_dir
from autopilot.golden.lookups import OfflineLookups
from autopilot.kube.resources import ObjectRef

HCO_NS = "openshift-cnv"
HCO_NAME = "kubevirt-hyperconverged"
HCO_PATH = f"/apis/hco.kubevirt.io/v1/namespaces/{HCO_NS}/hyperconvergeds/{HCO_NAME}"
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
    expected: list[dict[str, Any]] = field(default_factory=list)

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


def build_platform(golden_dir: Path | None = None) -> PlatformSpec:
    """The all-features platform and the objects it should end up with."""
    golden = load_golden_state(resolve_golden_state_dir(golden_dir))
    annotations, gates, env = opt_in(golden)
    hco = {
        "apiVersion": "hco.kubevirt.io/v1", "kind": "HyperConverged",
        "metadata": {"name": HCO_NAME, "namespace": HCO_NS, "annotations": annotations},
        "spec": {"featureGates": [{"name": g, "state": "Enabled"} for g in gates]},
    }
    nodes = platform_nodes()
    spec = PlatformSpec(golden=golden, hco=hco, nodes=nodes, env=env,
                        crds=minimal_crds(golden), namespaces=target_namespaces(golden))
    ctx = gcontext.build_context(hco=hco, nodes=nodes, environ=env, version=golden.version,
                                 namespace=HCO_NS)
    plans = gplan.plan_all(golden, ctx, activation=ggate.activation_for(hco, golden),
                           lookups=OfflineLookups())
    spec.expected = [o for p in plans if p.included and not p.error for o in p.objects]
    return spec


def seed(cluster: Any, spec: PlatformSpec) -> None:
    """Install CRDs, namespaces, nodes and the HCO into ``cluster`` (a tests Cluster)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-crds-"))
    paths = []
    for i, crd in enumerate(spec.crds):
        path = tmp / f"{i:03d}.json"
        path.write_text(json.dumps(crd))
        paths.append(path)
    cluster.install_crds(*paths)
    for ns in spec.namespaces:
        _create(cluster, "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for node in spec.nodes:
        _create(cluster, "/api/v1/nodes", node)
    _create(cluster, f"/apis/hco.kubevirt.io/v1/namespaces/{HCO_NS}/hyperconvergeds", spec.hco)


def _create(cluster: Any, path: str, body: dict[str, Any]) -> None:
    status, answer = cluster.api("POST", path, body=body)
    if status not in (201, 409):
        raise RuntimeError(f"creating {body.get('kind')} "
                           f"{body['metadata']['name']}: HTTP {status} {str(answer)[:300]}")
