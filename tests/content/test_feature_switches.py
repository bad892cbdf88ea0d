"""Every feature of this content: switched on, all its assets render; switched off, none do."""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from tests.support.rendering import context, make_hco, make_nodes, plan

P = "platform.kubevirt.io/"
# feature -> (HCO annotations, HCO spec, node options) that switch it on completely
SWITCHES: dict[str, tuple[dict[str, str], dict[str, Any], dict[str, Any]]] = {
    "load-aware-descheduler": ({}, {}, {"schedulable_masters": True}),
    "kubelet-performance": ({P + "enable-kubelet-performance-settings": "true"}, {}, {}),
    "cpu-manager": ({}, {"featureGates": [{"name": "CPUManager", "state": "Enabled"}]}, {}),
    "pci-passthrough": (
        {P + "openshift": "true", P + "enable-pci-passthrough": "true"}, {}, {"pci": True}
    ),
    "ksm-zero-pages": ({P + "enable-ksm-zero-only": "true"}, {}, {"schedulable_masters": True}),
    "thp-tuning": ({P + "enable-thp-tuning": "true"}, {}, {"schedulable_masters": True}),
    "vm-drain-shutdown-inhibitor": ({P + "enable-vm-drain-shutdown-inhibitor": "true"}, {}, {}),
    "mtv": ({P + "enable-mtv": "true"}, {}, {}),
    "metallb": ({P + "enable-metallb": "true"}, {}, {}),
    "troubleshooting-panel": ({P + "enable-korrel8r": "true"}, {}, {}),
    "logging": ({P + "enable-logging": "true", P + "enable-audit-logging": "true",
                 P + "logging-storage-class": "standard"}, {}, {}),
    "node-remediation": (
        {P + "enable-node-remediation": "true", P + "sbr-storage-class": "cephfs"}, {}, {}
    ),
    "kubevirt-metrics-exporter": ({P + "enable-kubevirt-metrics-exporter": "true"}, {}, {}),
    "in-flight-operations": ({P + "enable-in-flight-operations": "true"}, {}, {}),
}


def test_every_content_feature_is_covered(golden: GoldenState) -> None:
    mine = set(SWITCHES)
    assert mine <= {f.name for f in golden.features}
    assert len(mine) == 14  # the 13 features of this content plus In-Flight Operations


@pytest.mark.parametrize("feature", sorted(SWITCHES))
def test_switched_on_every_asset_renders(golden: GoldenState, feature: str) -> None:
    annotations, spec, node_opts = SWITCHES[feature]
    ctx = context(make_hco(annotations, spec), nodes=make_nodes(**node_opts))
    assets = golden.feature_assets(golden.feature(feature))
    assert assets
    for asset in assets:
        result = plan(golden, asset.name, ctx)
        assert result.error is None, result.error
        assert result.included and result.objects, f"{asset.name}: {result.reason}"


@pytest.mark.parametrize("feature", sorted(set(SWITCHES) - {"load-aware-descheduler"}))
def test_switched_off_every_asset_is_excluded_with_a_reason(
    golden: GoldenState, feature: str
) -> None:
    ctx = context(make_hco(), nodes=make_nodes(), images=False)
    for asset in golden.feature_assets(golden.feature(feature)):
        result = plan(golden, asset.name, ctx)
        assert not result.included, asset.name
        assert result.reason.startswith("condition "), (asset.name, result.reason)
        assert not result.objects


def test_descheduler_is_always_on_but_master_psi_needs_schedulable_masters(
    golden: GoldenState,
) -> None:
    ctx = context(make_hco(), nodes=make_nodes(schedulable_masters=False))
    for name in ("descheduler-kubedescheduler", "descheduler-psi-worker-machineconfig"):
        assert plan(golden, name, ctx).included
        assert golden.asset(name).gate_crd == "kubedeschedulers.operator.openshift.io"
    master = plan(golden, "descheduler-psi-master-machineconfig", ctx)
    assert not master.included
    assert "hasSchedulableMasters" in master.reason


@pytest.mark.parametrize(
    ("annotation", "value"),
    [("enable-mtv", "false"), ("enable-mtv", "True "), ("enable-metallb", "yes")],
)
def test_switch_value_must_be_exactly_true(
    golden: GoldenState, annotation: str, value: str
) -> None:
    ctx = context(make_hco({P + annotation: value}))
    asset = "mtv-forkliftcontroller" if annotation == "enable-mtv" else "metallb-instance"
    assert not plan(golden, asset, ctx).included


def test_ksm_stays_off_when_the_hco_configures_ksm(golden: GoldenState) -> None:
    hco = make_hco(
        {P + "enable-ksm-zero-only": "true"},
        {"virtualization": {"ksmConfiguration": {"nodeLabelSelector": {}}}},
    )
    ctx = context(hco, nodes=make_nodes(schedulable_masters=True))
    for asset in golden.feature_assets(golden.feature("ksm-zero-pages")):
        result = plan(golden, asset.name, ctx)
        assert not result.included
        assert "ksmConfiguration configured" in result.reason


def test_pci_passthrough_needs_pci_hardware(golden: GoldenState) -> None:
    hco = make_hco({P + "openshift": "true", P + "enable-pci-passthrough": "true"})
    result = plan(golden, "pci-passthrough-machineconfig", context(hco, nodes=make_nodes()))
    assert not result.included and "pciDevicesPresent" in result.reason


def test_audit_binding_needs_the_audit_switch(golden: GoldenState) -> None:
    ctx = context(make_hco({P + "enable-logging": "true"}))
    assert not plan(golden, "logging-collect-audit-logs", ctx).included
    assert plan(golden, "logging-collect-application-logs", ctx).included


def test_metrics_exporter_needs_its_image(golden: GoldenState) -> None:
    ctx = context(make_hco({P + "enable-kubevirt-metrics-exporter": "true"}), images=False)
    result = plan(golden, "kubevirt-metrics-exporter-daemonset", ctx)
    assert not result.included and "RELATED_IMAGE_KUBEVIRT_METRICS_EXPORTER" in result.reason
