"""Kubelet, CPU manager, MTV, MetalLB and the troubleshooting panel: their key settings."""

from __future__ import annotations

from autopilot.golden.catalog import GoldenState
from tests.support.rendering import context, make_hco, one, plan

P = "platform.kubevirt.io/"
WORKER_POOL = {"matchLabels": {"pools.operator.machineconfiguration.openshift.io/worker": ""}}


def test_kubelet_performance_defaults(golden: GoldenState) -> None:
    hco = make_hco({P + "enable-kubelet-performance-settings": "true"})
    kc = one(golden, "kubelet-performance-kubeletconfig", context(hco))
    assert kc["kind"] == "KubeletConfig" and kc["metadata"]["name"] == "virt-perf-settings"
    assert kc["spec"]["autoSizingReserved"] is True
    assert kc["spec"]["machineConfigPoolSelector"] == WORKER_POOL
    assert kc["spec"]["kubeletConfig"] == {"nodeStatusMaxImages": -1, "maxPods": 500}


def test_kubelet_max_pods_from_the_hco(golden: GoldenState) -> None:
    hco = make_hco({P + "enable-kubelet-performance-settings": "true",
                    P + "kubelet-max-pods": "350"})
    kc = one(golden, "kubelet-performance-kubeletconfig", context(hco))
    assert kc["spec"]["kubeletConfig"]["maxPods"] == 350


def test_kubelet_max_pods_must_be_a_positive_integer(golden: GoldenState) -> None:
    for bad in ("lots", "-3", "0", "1.5"):
        hco = make_hco({P + "enable-kubelet-performance-settings": "true",
                        P + "kubelet-max-pods": bad})
        result = plan(golden, "kubelet-performance-kubeletconfig", context(hco))
        assert result.error is not None and "kubelet-max-pods" in result.error, bad


def test_cpu_manager(golden: GoldenState) -> None:
    hco = make_hco(spec={"featureGates": [{"name": "CPUManager"}]})
    kc = one(golden, "cpu-manager-kubeletconfig", context(hco))
    assert kc["metadata"]["name"] == "virt-cpu-manager"
    assert kc["spec"]["machineConfigPoolSelector"] == WORKER_POOL
    cfg = kc["spec"]["kubeletConfig"]
    assert cfg["cpuManagerPolicy"] == "static"
    assert cfg["cpuManagerPolicyOptions"] == {"full-pcpus-only": "true"}
    assert cfg["cpuManagerReconcilePeriod"] == "5s"
    assert cfg["reservedSystemCPUs"] == "0-1" and cfg["kubeReserved"] == {"cpu": "1"}
    assert cfg["topologyManagerPolicy"] == "best-effort"
    assert cfg["memoryManagerPolicy"] == "Static"
    assert cfg["reservedMemory"] == [{"numaNode": 0, "limits": {"memory": "1124Mi"}}]


def test_cpu_manager_gate_disabled(golden: GoldenState) -> None:
    hco = make_hco(spec={"featureGates": [{"name": "CPUManager", "state": "Disabled"}]})
    assert not plan(golden, "cpu-manager-kubeletconfig", context(hco)).included


def test_mtv(golden: GoldenState) -> None:
    fc = one(golden, "mtv-forkliftcontroller", context(make_hco({P + "enable-mtv": "true"})))
    assert fc["apiVersion"] == "forklift.konveyor.io/v1beta1"
    assert (fc["metadata"]["namespace"], fc["metadata"]["name"]) == (
        "openshift-mtv", "forklift-controller")
    for flag in ("feature_ui_plugin", "feature_validation", "feature_volume_populator"):
        assert fc["spec"][flag] == "true"


def test_metallb(golden: GoldenState) -> None:
    mlb = one(golden, "metallb-instance", context(make_hco({P + "enable-metallb": "true"})))
    assert mlb["apiVersion"] == "metallb.io/v1beta1"
    assert (mlb["metadata"]["namespace"], mlb["metadata"]["name"]) == ("metallb-system", "metallb")


def test_troubleshooting_panel(golden: GoldenState) -> None:
    plugin = one(golden, "troubleshooting-panel-uiplugin",
                 context(make_hco({P + "enable-korrel8r": "true"})))
    assert plugin["apiVersion"] == "observability.openshift.io/v1alpha1"
    assert plugin["metadata"]["name"] == "troubleshooting-panel"
    assert plugin["spec"] == {"type": "TroubleshootingPanel"}
