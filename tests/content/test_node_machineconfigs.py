"""MachineConfigs that ship node scripts: embedded byte-for-byte, deterministically, with units."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from autopilot.golden.lookups import OfflineLookups
from tests.support.node_scripts import SCRIPTS
from tests.support.rendering import context, make_hco, make_nodes, one, text

P = "platform.kubevirt.io/"
ON = {
    P + "enable-ksm-zero-only": "true",
    P + "enable-thp-tuning": "true",
    P + "enable-vm-drain-shutdown-inhibitor": "true",
    P + "openshift": "true",
    P + "enable-pci-passthrough": "true",
}


def ctx() -> Any:
    return context(make_hco(ON), nodes=make_nodes(schedulable_masters=True, pci=True))


def files_of(mc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in mc["spec"]["config"]["storage"]["files"]}


def units_of(mc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["name"]: u for u in mc["spec"]["config"]["systemd"]["units"]}


def decoded(entry: dict[str, Any]) -> str:
    contents = entry["contents"]
    assert contents["compression"] == "gzip"
    prefix = "data:;base64,"
    assert contents["source"].startswith(prefix)
    return gzip.decompress(base64.b64decode(contents["source"][len(prefix):])).decode()


@pytest.mark.parametrize(
    ("asset", "name", "script", "units"),
    [
        ("ksm-zero-pages-worker-machineconfig", "99-worker-ksm-zero-only", "ksm_zero_pages.py",
         {"ksm-zero-pages.service"}),
        ("ksm-zero-pages-master-machineconfig", "99-master-ksm-zero-only", "ksm_zero_pages.py",
         {"ksm-zero-pages.service"}),
        ("thp-tuning-worker-machineconfig", "99-worker-thp-tuning", "thp_tuning.py",
         {"thp-tuning.service"}),
        ("thp-tuning-master-machineconfig", "99-master-thp-tuning", "thp_tuning.py",
         {"thp-tuning.service"}),
        ("vm-drain-shutdown-inhibitor-machineconfig", "99-worker-vm-drain-shutdown-inhibitor",
         "vm_drain_inhibitor.py", {"vm-drain-shutdown-inhibitor.service"}),
    ],
)
def test_script_is_embedded_verbatim(
    golden: GoldenState, asset: str, name: str, script: str, units: set[str]
) -> None:
    mc = one(golden, asset, ctx())
    assert mc["apiVersion"] == "machineconfiguration.openshift.io/v1"
    assert mc["metadata"]["name"] == name
    role = name.split("-")[1]
    assert mc["metadata"]["labels"]["machineconfiguration.openshift.io/role"] == role
    assert mc["spec"]["config"]["ignition"]["version"].startswith("3.")
    entry = files_of(mc)[f"/usr/local/bin/{script}"]
    assert entry["mode"] == 0o755
    assert decoded(entry) == (SCRIPTS / script).read_text()
    assert set(units_of(mc)) == units
    assert any(f"/usr/local/bin/{script}" in u["contents"] for u in units_of(mc).values())


def test_rendering_is_byte_for_byte_stable(golden: GoldenState) -> None:
    lookups = OfflineLookups()
    for asset in ("ksm-zero-pages-worker-machineconfig", "thp-tuning-worker-machineconfig",
                  "vm-drain-shutdown-inhibitor-machineconfig"):
        assert text(golden, asset, ctx(), lookups=lookups) == text(
            golden, asset, ctx(), lookups=lookups
        )


def test_ksm_runs_once_per_boot(golden: GoldenState) -> None:
    units = units_of(one(golden, "ksm-zero-pages-worker-machineconfig", ctx()))
    service = units["ksm-zero-pages.service"]
    assert service["enabled"] is True
    assert "Type=oneshot" in service["contents"] and "WantedBy=multi-user.target" in \
        service["contents"]


def test_drain_inhibitor_logind_and_timeouts(golden: GoldenState) -> None:
    mc = one(golden, "vm-drain-shutdown-inhibitor-machineconfig", ctx())
    logind = files_of(mc)["/etc/systemd/logind.conf.d/10-inhibit-delay.conf"]
    assert decoded(logind).split() == ["[Login]", "InhibitDelayMaxSec=150"]
    assert logind["mode"] == 0o644
    # logind reads its drop-ins in name order and the last one wins: ours must come
    # before the kubelet's own 99-kubelet.conf, so the kubelet can still raise the delay
    # to its shutdownGracePeriod (and graceful node shutdown stays on).
    dropins = [p for p in files_of(mc) if p.startswith("/etc/systemd/logind.conf.d/")]
    assert dropins and all(p.rsplit("/", 1)[1] < "99-kubelet.conf" for p in dropins)
    service = units_of(mc)["vm-drain-shutdown-inhibitor.service"]["contents"]
    assert "--timeout 120 --interval 2 --parallel 4" in service
    # A daemon holding the logind lock, restarted if it ever loses the signal stream.
    assert "Type=simple" in service and "Restart=on-failure" in service
    assert "After=systemd-logind.service" in service


def test_thp_runs_before_the_kubelet(golden: GoldenState) -> None:
    service = units_of(one(golden, "thp-tuning-worker-machineconfig", ctx()))["thp-tuning.service"]
    assert service["enabled"] is True
    assert "Before=kubelet.service" in service["contents"]


def test_pci_passthrough_kernel_arguments(golden: GoldenState) -> None:
    mc = one(golden, "pci-passthrough-machineconfig", ctx())
    assert mc["metadata"]["name"] == "50-virt-pci-passthrough"
    assert mc["metadata"]["labels"]["machineconfiguration.openshift.io/role"] == "worker"
    assert mc["spec"]["kernelArguments"] == ["intel_iommu=on", "iommu=pt"]
