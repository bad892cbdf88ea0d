"""``autopilot render --kubeconfig`` end to end, against a live API server.

The live render reads the HCO, the nodes (hardware and topology detection) and, through
its lookups, the cluster's own objects. A cluster is set up where each of those changes
the answer compared with an offline render of the same HCO: a PCI node, three
schedulable masters, and an admin's monitoring config the KSM asset must keep.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support.platform import HCO_NS, Platform
from tests.unit.golden.conftest import PROJECT

ANNOTATIONS = {
    "platform.kubevirt.io/autopilot": "true",
    "platform.kubevirt.io/openshift": "true",
    "platform.kubevirt.io/enable-pci-passthrough": "true",
    "platform.kubevirt.io/enable-ksm-zero-only": "true",
}
PCI_MC = ("MachineConfig", "50-virt-pci-passthrough")
PSI_MASTER_MC = ("MachineConfig", "99-openshift-machineconfig-master-psi-karg")
KSM_CONFIG = ("ConfigMap", "cluster-monitoring-config")
ADMIN_CONFIG = "prometheusK8s:\n  retention: 15d\n"


def render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autopilot", "render", *args],
                          cwd=PROJECT, capture_output=True, text=True, timeout=120, check=False)


def by_identity(stdout: str) -> dict[tuple[str, str], dict[str, Any]]:
    items = json.loads(stdout)["items"]
    return {(o["kind"], o["metadata"]["name"]): o for o in items}


def node(name: str, *labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": dict.fromkeys(labels, "")}}


# The HCO, its namespace and the monitoring ConfigMap have fixed names; nodes are
# cluster-wide: on a real server, a pristine one of its own.
FIXED_NAMES = pytest.mark.fresh_server("fixed HCO, node and ConfigMap names")


@pytest.fixture
def live_cluster(cluster: Any) -> Any:
    """HCO, three master+worker nodes (one with a PCI device) and the admin's config."""
    platform = Platform(cluster)
    platform.install("HyperConverged")
    for i in range(3):
        labels = ["node-role.kubernetes.io/master", "node-role.kubernetes.io/worker"]
        body = node(f"node-{i}", *labels)
        if i == 0:
            body["metadata"]["labels"]["feature.node.kubernetes.io/pci-present"] = "true"
        status, out = cluster.api("POST", "/api/v1/nodes", body=body)
        assert status == 201, out
    platform.ensure_namespace("openshift-monitoring")
    status, out = cluster.api("POST", "/api/v1/namespaces/openshift-monitoring/configmaps", body={
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cluster-monitoring-config", "namespace": "openshift-monitoring"},
        "data": {"config.yaml": ADMIN_CONFIG}})
    assert status == 201, out
    return cluster


@FIXED_NAMES
def test_live_render_reads_nodes_and_cluster_objects(live_cluster: Any, tmp_path: Path) -> None:
    platform = Platform(live_cluster)
    hco = platform.create_hco(ANNOTATIONS)
    hco_file = tmp_path / "hco.json"
    hco_file.write_text(json.dumps(hco))
    offline = render("--hco-file", str(hco_file), "--output", "json")
    assert offline.returncode == 0, offline.stderr
    live = render("--kubeconfig", str(live_cluster.kubeconfig), "--output", "json")
    assert live.returncode == 0, live.stderr
    off, on = by_identity(offline.stdout), by_identity(live.stdout)

    # Detection from the live nodes: a PCI device, schedulable masters.
    assert PCI_MC in on and PCI_MC not in off
    assert PSI_MASTER_MC in on and PSI_MASTER_MC not in off
    assert "intel_iommu=on" in on[PCI_MC]["spec"]["kernelArguments"]
    # A lookup of a live object: the admin's keys survive, the asset's own key is added.
    config = YAML(typ="safe").load(on[KSM_CONFIG]["data"]["config.yaml"])
    assert config["prometheusK8s"] == {"retention": "15d"}, config
    assert config["nodeExporter"]["collectors"]["ksmd"]["enabled"] is True, config
    assert "prometheusK8s" not in YAML(typ="safe").load(off[KSM_CONFIG]["data"]["config.yaml"])

    status = render("--kubeconfig", str(live_cluster.kubeconfig), "--output", "status")
    assert status.returncode == 0, status.stderr
    rows = {line.split()[0]: line.split()[2] for line in status.stdout.splitlines()
            if line.strip() and line.split()[0] != "NAME" and len(line.split()) > 2}
    assert rows["pci-passthrough-machineconfig"] == "INCLUDED", status.stdout
    assert rows["mtv-forkliftcontroller"] == "EXCLUDED", status.stdout


@FIXED_NAMES
def test_live_render_without_an_hco_is_a_one_line_error(cluster: Any) -> None:
    Platform(cluster).install("HyperConverged")
    proc = render("--kubeconfig", str(cluster.kubeconfig))
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line == (f"autopilot: error: HyperConverged {HCO_NS}/kubevirt-hyperconverged "
                    "not found"), line
