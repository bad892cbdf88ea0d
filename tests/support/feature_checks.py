"""What each feature's objects must carry: one check per object kind (golden-state spec §2)."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML

from tests.support.feature_objects import (
    EXPORTER_IMAGE,
    Check,
    files,
    shared_crd_present,
    spec_of,
    units,
)

# -- key settings per feature (golden-state spec §2) ---------------------------------------


def kubelet_performance(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["kubeletConfig"]["maxPods"] == 500, spec
    assert spec["kubeletConfig"]["nodeStatusMaxImages"] == -1, spec
    assert spec["autoSizingReserved"] is True, spec
    assert "pools.operator.machineconfiguration.openshift.io/worker" in (
        spec["machineConfigPoolSelector"]["matchLabels"]), spec


def cpu_manager(obj: dict[str, Any]) -> None:
    kc = spec_of(obj)["kubeletConfig"]
    assert kc["cpuManagerPolicy"] == "static", kc
    assert kc["cpuManagerPolicyOptions"] == {"full-pcpus-only": "true"}, kc
    assert kc["cpuManagerReconcilePeriod"] == "5s", kc
    assert kc["reservedSystemCPUs"] == "0-1", kc
    assert kc["topologyManagerPolicy"] == "best-effort", kc
    assert kc["memoryManagerPolicy"] == "Static", kc
    assert kc["reservedMemory"] == [{"numaNode": 0, "limits": {"memory": "1124Mi"}}], kc


def pci(obj: dict[str, Any]) -> None:
    args = spec_of(obj)["kernelArguments"]
    assert "intel_iommu=on" in args and "iommu=pt" in args, args


def ksm_mc(obj: dict[str, Any]) -> None:
    assert any(u.get("enabled") for name, u in units(obj).items() if name.startswith("ksm")), obj
    assert files(obj), obj


def ksm_config(obj: dict[str, Any]) -> None:
    config = YAML(typ="safe").load(obj["data"]["config.yaml"])
    assert config["nodeExporter"]["collectors"]["ksmd"]["enabled"] is True, config
    # The admin's own keys survive the merge.
    assert config["prometheusK8s"] == {"retention": "15d"}, config


def thp(obj: dict[str, Any]) -> None:
    assert units(obj)["thp-tuning.service"]["enabled"] is True, obj


def vm_drain(obj: dict[str, Any]) -> None:
    unit = units(obj)["vm-drain-shutdown-inhibitor.service"]
    assert unit["enabled"] is True and "--timeout 120 --interval 2" in unit["contents"], unit
    assert "/etc/systemd/logind.conf.d/10-inhibit-delay.conf" in files(obj), obj


def mtv(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    for flag in ("feature_ui_plugin", "feature_validation", "feature_volume_populator"):
        assert spec[flag] == "true", spec


def metallb(obj: dict[str, Any]) -> None:
    assert obj["metadata"]["namespace"] == "metallb-system", obj["metadata"]
    assert spec_of(obj)["logLevel"] == "info", obj


def troubleshooting(obj: dict[str, Any]) -> None:
    assert spec_of(obj)["type"] == "TroubleshootingPanel", obj


def lokistack(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["size"] == "1x.extra-small", spec  # 4 nodes, not a hosted control plane
    assert spec["storage"]["secret"] == {"name": "logging-loki-storage", "type": "s3"}, spec
    # No LVMS, not vSphere: the cluster's default StorageClass (found through the API).
    assert spec["storageClassName"] == "standard-csi", spec
    assert spec["limits"]["global"]["retention"]["days"] == 7, spec
    assert spec["tenants"]["mode"] == "openshift-logging", spec


def clf(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["serviceAccount"]["name"] == "collector", spec
    pipelines = {p["name"]: p for p in spec["pipelines"]}
    assert pipelines["infra-logs"]["filterRefs"] == ["drop-debug-infra", "drop-health-probes"]
    assert pipelines["app-logs"]["filterRefs"] == ["drop-health-probes"], pipelines
    assert pipelines["audit-logs"]["inputRefs"] == ["audit"], pipelines
    assert spec["outputs"][0]["lokiStack"]["target"]["name"] == "logging-loki", spec


def binding(role: str) -> Check:
    def check(obj: dict[str, Any]) -> None:
        assert obj["roleRef"]["name"] == role, obj
        assert obj["subjects"] == [{"kind": "ServiceAccount", "name": "collector",
                                    "namespace": "openshift-logging"}], obj

    return check


def logging_ui(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["type"] == "Logging", spec
    assert spec["logging"]["lokiStack"]["name"] == "logging-loki", spec


def nhc(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["minHealthy"] == "51%", spec
    assert {c["type"] for c in spec["unhealthyConditions"]} == {"Ready", "SBRStorageUnhealthy"}
    assert all(c["duration"] == "300s" for c in spec["unhealthyConditions"]), spec
    assert spec["remediationTemplate"]["kind"] == "FenceAgentsRemediationTemplate", spec


def sbr(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["detectOnlyMode"] == "Enabled", spec
    assert spec["sharedStorageClass"] == "cephfs-rwx", spec


def exporter_ds(obj: dict[str, Any]) -> None:
    pod = obj["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == EXPORTER_IMAGE, container["image"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["LOG_LEVEL"] == "debug" and env["ENABLE_EBPF_NFS"] == "false", env  # overrides
    assert env["ENABLE_QMP"] == "true", env  # defaults kept
    assert pod["serviceAccountName"] == "kubevirt-metrics-exporter" and pod["hostPID"] is True


def exporter_scc(obj: dict[str, Any]) -> None:
    assert obj["allowHostPID"] is True and obj["allowPrivilegedContainer"] is False, obj
    assert obj["seLinuxContext"] == {"type": "MustRunAs"}, obj
    assert not obj.get("users"), obj  # granted through RBAC "use"


def exporter_scc_use(obj: dict[str, Any]) -> None:
    assert obj["roleRef"]["name"] == "kubevirt-metrics-exporter-scc", obj
    assert obj["subjects"][0]["name"] == "kubevirt-metrics-exporter", obj


def exporter_podmonitor(obj: dict[str, Any]) -> None:
    endpoint = spec_of(obj)["podMetricsEndpoints"][0]
    assert (endpoint["port"], endpoint["interval"]) == ("metrics", "30s"), endpoint
    assert endpoint["honorLabels"] is True, endpoint


def exporter_rule(obj: dict[str, Any]) -> None:
    rules = [r for g in spec_of(obj)["groups"] for r in g["rules"]]
    assert len({r["alert"] for r in rules if "alert" in r}) == 22, rules
    assert {"KMEDegraded", "VMIDiskSaturated"} <= {
        r.get("alert") for r in rules}, rules


def descheduler(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    real = shared_crd_present("KubeDescheduler")
    # The published CRD offers KubeVirtRelieveAndMigrate; a schema-less one offers nothing.
    assert spec["profiles"] == ["KubeVirtRelieveAndMigrate" if real else "LongLifecycle"], spec
    assert (spec["managementState"], spec["mode"]) == ("Managed", "Automatic"), spec
    assert spec["deschedulingIntervalSeconds"] == 60, spec
    assert spec["evictionLimits"] == {"total": 6, "node": 3}, spec  # from the HCO
    custom = spec["profileCustomizations"]
    if real:  # the recording rule in the cluster picks the utilisation profile
        assert custom == {"devActualUtilizationProfile": "PrometheusCPUCombined"}, custom
    else:  # LongLifecycle needs background evictions asked for
        assert custom == {"devEnableEvictionsInBackground": True}, custom


def psi(obj: dict[str, Any]) -> None:
    assert spec_of(obj)["kernelArguments"] == ["psi=1"], obj


def descheduler_dashboard(obj: dict[str, Any]) -> None:
    panels = spec_of(obj)["config"]["panels"]
    assert "evictions" in panels and "node-cpu-pressure" in panels, sorted(panels)


def rule_set(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["component"] and spec["target"]["resource"], spec
    assert spec["rules"], spec
    assert all(r["operation"] and r["expression"] for r in spec["rules"]), spec


def rule_set_count(cluster: Any) -> None:
    status, body = cluster.api(
        "GET", "/apis/ifo.kubevirt.io/v1alpha1/operationrulesets",
        query={"labelSelector": "platform.kubevirt.io/managed-by=virt-platform-autopilot"})
    assert status == 200, body
    names = sorted(i["metadata"]["name"] for i in body["items"])
    # Spec §2: 1 cdi + 1 csi + 1 far + 1 forklift + 7 hco + 7 kubevirt + 2 nmstate
    # + 1 nodemaintenance + 7 oadp + 3 olm + 7 openshift.
    assert len(names) == 38, names
    assert len([n for n in names if n.startswith("velero-")]) == 7, names
