"""PCI Passthrough: which node signals switch it on (NFD labels, device-plugin resources)."""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from autopilot.golden.context import reduce_node
from tests.support.rendering import context, make_hco, plan

P = "platform.kubevirt.io/"
HCO = make_hco({P + "openshift": "true", P + "enable-pci-passthrough": "true"})
ASSET = "pci-passthrough-machineconfig"


def worker(labels: dict[str, str] | None = None,
           capacity: dict[str, str] | None = None) -> dict[str, Any]:
    node = {"metadata": {"name": "worker-0", "labels": {
                "node-role.kubernetes.io/worker": "", **(labels or {})}},
            "status": {"capacity": {"cpu": "64", "memory": "256Gi", **(capacity or {})}}}
    return reduce_node(node)  # what the controller's node cache keeps


@pytest.mark.parametrize(
    ("node", "included"),
    [
        # Only NFD labels: a GPU (class 0300) and a NIC (0200) of these vendors.
        (worker(labels={"feature.node.kubernetes.io/pci-0300_10de.present": "true",
                        "feature.node.kubernetes.io/pci-0200_8086.present": "true"}), True),
        (worker(labels={"feature.node.kubernetes.io/pci-present": "true"}), True),
        # Only a device plugin's resources.
        (worker(capacity={"nvidia.com/GA102GL_A10": "2"}), True),
        (worker(capacity={"openshift.io/sriov_nics": "8"}), True),
        # Neither: KubeVirt's own device plugins, a zero count, an NFD label set false,
        # other NFD labels.
        (worker(capacity={"devices.kubevirt.io/kvm": "1k", "devices.kubevirt.io/tun": "1k"}),
         False),
        (worker(capacity={"nvidia.com/GA102GL_A10": "0"}), False),
        (worker(labels={"feature.node.kubernetes.io/pci-0300_10de.present": "false"}), False),
        (worker(labels={"feature.node.kubernetes.io/cpu-cpuid.VMX": "true"}), False),
    ],
)
def test_pci_signals(golden: GoldenState, node: dict[str, Any], included: bool) -> None:
    result = plan(golden, ASSET, context(HCO, nodes=[node]))
    assert result.error is None
    assert result.included is included, result.reason
