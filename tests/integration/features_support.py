"""The opt-in features of the golden state as test cases (golden-state spec §2).

Each :class:`FeatureCase` says what a cluster needs for the feature to apply (CRDs,
namespaces, nodes, HCO annotations and spec, related-image env, pre-existing objects),
the objects the feature must then own with a check of their key settings, how to turn
the feature off again, and a drift to make after that which the controller must leave
alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML

from tests.support.platform import CRDS, HCO_NS, PROJECT, SHARED

GOLDEN = PROJECT / "golden_state"
EXPORTER_IMAGE = "registry.example.com/kubevirt/kubevirt-metrics-exporter@sha256:" + "ab" * 32

Check = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Obj:
    """One object a feature must own, and the key settings it must carry."""

    api_version: str
    kind: str
    plural: str
    name: str
    namespace: str = ""
    check: Check | None = None

    @property
    def path(self) -> str:
        """REST path of the object."""
        base = f"/apis/{self.api_version}" if "/" in self.api_version else "/api/v1"
        if self.namespace:
            base += f"/namespaces/{self.namespace}"
        return f"{base}/{self.plural}/{self.name}"

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass(frozen=True)
class FeatureCase:
    """A feature switched on in a small cluster, what it must produce, and how to turn it off."""

    feature: str
    objects: tuple[Obj, ...]
    # HCO annotations and spec merge patch that switch it on once the controller runs.
    switch: Mapping[str, str] = field(default_factory=dict)
    switch_spec: Mapping[str, Any] | None = None
    # HCO annotations (besides the autopilot annotation) and spec it is created with.
    annotations: Mapping[str, str] = field(default_factory=dict)
    spec: Mapping[str, Any] = field(default_factory=dict)
    # Merge patches on the HCO that switch it off again.
    off_annotations: Mapping[str, str | None] = field(default_factory=dict)
    off_spec: Mapping[str, Any] | None = None
    # Cluster preparation.
    kinds: tuple[str, ...] = ()  # CRDS table kinds (published schemas when at hand)
    namespaces: tuple[str, ...] = ()
    nodes: tuple[dict[str, Any], ...] = ()
    existing: tuple[tuple[str, dict[str, Any]], ...] = ()  # (collection path, body)
    env: Mapping[str, str] = field(default_factory=dict)
    # After switching off: a merge patch on objects[0] that must survive.
    drift: Mapping[str, Any] = field(default_factory=dict)
    # Resources no always-on asset writes to in this cluster: in kubesim the controller
    # must not write to them at all once the feature is off.
    quiet_plurals: tuple[str, ...] = ()
    autopilot: str = "true"  # the autopilot annotation the HCO is created with
    cluster_check: Callable[[Any], None] | None = None  # a further check once converged

    def __str__(self) -> str:
        return self.feature


# -- small helpers -------------------------------------------------------------------------


def node(name: str, *roles: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Node with role labels (``worker``, ``master``) and extra labels."""
    all_labels = {f"node-role.kubernetes.io/{r}": "" for r in roles}
    all_labels.update(labels or {})
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": all_labels}}


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """``spec`` of an object (empty when absent)."""
    return dict(obj.get("spec") or {})


def contains(obj: Any, part: Any) -> bool:
    """True when every key/value of the merge-patch-like ``part`` is present in ``obj``."""
    if isinstance(part, Mapping):
        return isinstance(obj, Mapping) and all(contains(obj.get(k), v) for k, v in part.items())
    return bool(obj == part)


MC_DRIFT: Mapping[str, Any] = {"spec": {"config": {"ignition": {"version": "3.1.0"}}}}


def mc(name: str, role: str, check: Check | None = None) -> Obj:
    """A MachineConfig of the given role, with the role label checked."""

    def checked(obj: dict[str, Any]) -> None:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        assert labels.get("machineconfiguration.openshift.io/role") == role, labels
        assert spec_of(obj)["config"]["ignition"]["version"].startswith("3."), obj
        if check is not None:
            check(obj)

    return Obj("machineconfiguration.openshift.io/v1", "MachineConfig", "machineconfigs",
               name, check=checked)


def units(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """systemd units of a MachineConfig by name."""
    listed = (spec_of(obj).get("config") or {}).get("systemd", {}).get("units") or []
    return {u["name"]: u for u in listed}


def files(obj: dict[str, Any]) -> list[str]:
    """Paths of the files a MachineConfig writes."""
    listed = (spec_of(obj).get("config") or {}).get("storage", {}).get("files") or []
    return [f["path"] for f in listed]


def shared_crd_present(kind: str) -> bool:
    """Whether the published CRD of ``kind`` is at hand (else a schema-less stand-in is used)."""
    return (SHARED / "crds" / CRDS[kind][4]).is_file()


def in_flight_rule_sets() -> list[str]:
    """Names of every OperationRuleSet the golden state ships."""
    data = YAML(typ="safe").load(
        (GOLDEN / "files" / "in-flight-operations" / "rulesets.yaml").read_text()
    )
    return [rs["name"] for sets in data.values() for rs in sets]


# -- key settings per feature (golden-state spec §2) ---------------------------------------


def _kubelet_performance(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["kubeletConfig"]["maxPods"] == 500, spec
    assert spec["kubeletConfig"]["nodeStatusMaxImages"] == -1, spec
    assert spec["autoSizingReserved"] is True, spec
    assert "pools.operator.machineconfiguration.openshift.io/worker" in (
        spec["machineConfigPoolSelector"]["matchLabels"]), spec


def _cpu_manager(obj: dict[str, Any]) -> None:
    kc = spec_of(obj)["kubeletConfig"]
    assert kc["cpuManagerPolicy"] == "static", kc
    assert kc["cpuManagerPolicyOptions"] == {"full-pcpus-only": "true"}, kc
    assert kc["cpuManagerReconcilePeriod"] == "5s", kc
    assert kc["reservedSystemCPUs"] == "0-1", kc
    assert kc["topologyManagerPolicy"] == "best-effort", kc
    assert kc["memoryManagerPolicy"] == "Static", kc
    assert kc["reservedMemory"] == [{"numaNode": 0, "limits": {"memory": "1124Mi"}}], kc


def _pci(obj: dict[str, Any]) -> None:
    args = spec_of(obj)["kernelArguments"]
    assert "intel_iommu=on" in args and "iommu=pt" in args, args


def _ksm_mc(obj: dict[str, Any]) -> None:
    assert any(u.get("enabled") for name, u in units(obj).items() if name.startswith("ksm")), obj
    assert files(obj), obj


def _ksm_config(obj: dict[str, Any]) -> None:
    config = YAML(typ="safe").load(obj["data"]["config.yaml"])
    assert config["nodeExporter"]["collectors"]["ksmd"]["enabled"] is True, config
    # The admin's own keys survive the merge.
    assert config["prometheusK8s"] == {"retention": "15d"}, config


def _thp(obj: dict[str, Any]) -> None:
    assert units(obj)["thp-tuning.service"]["enabled"] is True, obj


def _vm_drain(obj: dict[str, Any]) -> None:
    unit = units(obj)["vm-drain-shutdown-inhibitor.service"]
    assert unit["enabled"] is True and "--timeout 120 --interval 2" in unit["contents"], unit
    assert "/etc/systemd/logind.conf.d/10-inhibit-delay.conf" in files(obj), obj


def _mtv(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    for flag in ("feature_ui_plugin", "feature_validation", "feature_volume_populator"):
        assert spec[flag] == "true", spec


def _metallb(obj: dict[str, Any]) -> None:
    assert obj["metadata"]["namespace"] == "metallb-system", obj["metadata"]
    assert spec_of(obj)["logLevel"] == "info", obj


def _troubleshooting(obj: dict[str, Any]) -> None:
    assert spec_of(obj)["type"] == "TroubleshootingPanel", obj


def _lokistack(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["size"] == "1x.extra-small", spec  # 4 nodes, not a hosted control plane
    assert spec["storage"]["secret"] == {"name": "logging-loki-storage", "type": "s3"}, spec
    # No LVMS, not vSphere: the cluster's default StorageClass (found through the API).
    assert spec["storageClassName"] == "standard-csi", spec
    assert spec["limits"]["global"]["retention"]["days"] == 7, spec
    assert spec["tenants"]["mode"] == "openshift-logging", spec


def _clf(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["serviceAccount"]["name"] == "collector", spec
    pipelines = {p["name"]: p for p in spec["pipelines"]}
    assert pipelines["infra-logs"]["filterRefs"] == ["drop-debug-infra", "drop-health-probes"]
    assert pipelines["app-logs"]["filterRefs"] == ["drop-health-probes"], pipelines
    assert pipelines["audit-logs"]["inputRefs"] == ["audit"], pipelines
    assert spec["outputs"][0]["lokiStack"]["target"]["name"] == "logging-loki", spec


def _binding(role: str) -> Check:
    def check(obj: dict[str, Any]) -> None:
        assert obj["roleRef"]["name"] == role, obj
        assert obj["subjects"] == [{"kind": "ServiceAccount", "name": "collector",
                                    "namespace": "openshift-logging"}], obj

    return check


def _logging_ui(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["type"] == "Logging", spec
    assert spec["logging"]["lokiStack"]["name"] == "logging-loki", spec


def _nhc(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["minHealthy"] == "51%", spec
    assert {c["type"] for c in spec["unhealthyConditions"]} == {"Ready", "SBRStorageUnhealthy"}
    assert all(c["duration"] == "300s" for c in spec["unhealthyConditions"]), spec
    assert spec["remediationTemplate"]["kind"] == "FenceAgentsRemediationTemplate", spec


def _sbr(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["detectOnlyMode"] == "Enabled", spec
    assert spec["sharedStorageClass"] == "cephfs-rwx", spec


def _exporter_ds(obj: dict[str, Any]) -> None:
    pod = obj["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == EXPORTER_IMAGE, container["image"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["LOG_LEVEL"] == "debug" and env["ENABLE_EBPF_NFS"] == "false", env  # overrides
    assert env["ENABLE_QMP"] == "true", env  # defaults kept
    assert pod["serviceAccountName"] == "kubevirt-metrics-exporter" and pod["hostPID"] is True


def _exporter_scc(obj: dict[str, Any]) -> None:
    assert obj["allowHostPID"] is True and obj["allowPrivilegedContainer"] is False, obj
    assert obj["seLinuxContext"] == {"type": "MustRunAs"}, obj
    assert not obj.get("users"), obj  # granted through RBAC "use"


def _exporter_scc_use(obj: dict[str, Any]) -> None:
    assert obj["roleRef"]["name"] == "kubevirt-metrics-exporter-scc", obj
    assert obj["subjects"][0]["name"] == "kubevirt-metrics-exporter", obj


def _exporter_podmonitor(obj: dict[str, Any]) -> None:
    endpoint = spec_of(obj)["podMetricsEndpoints"][0]
    assert (endpoint["port"], endpoint["interval"]) == ("metrics", "30s"), endpoint
    assert endpoint["honorLabels"] is True, endpoint


def _exporter_rule(obj: dict[str, Any]) -> None:
    rules = [r for g in spec_of(obj)["groups"] for r in g["rules"]]
    assert len({r["alert"] for r in rules if "alert" in r}) == 22, rules
    assert {"KMEDegraded", "VMIDiskSaturated"} <= {
        r.get("alert") for r in rules}, rules


def _descheduler(obj: dict[str, Any]) -> None:
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


def _psi(obj: dict[str, Any]) -> None:
    assert spec_of(obj)["kernelArguments"] == ["psi=1"], obj


def _descheduler_dashboard(obj: dict[str, Any]) -> None:
    panels = spec_of(obj)["config"]["panels"]
    assert "evictions" in panels and "node-cpu-pressure" in panels, sorted(panels)


def _rule_set(obj: dict[str, Any]) -> None:
    spec = spec_of(obj)
    assert spec["component"] and spec["target"]["resource"], spec
    assert spec["rules"], spec
    assert all(r["operation"] and r["expression"] for r in spec["rules"]), spec


def _rule_set_count(cluster: Any) -> None:
    status, body = cluster.api(
        "GET", "/apis/ifo.kubevirt.io/v1alpha1/operationrulesets",
        query={"labelSelector": "platform.kubevirt.io/managed-by=virt-platform-autopilot"})
    assert status == 200, body
    names = sorted(i["metadata"]["name"] for i in body["items"])
    # Spec §2: 1 cdi + 1 csi + 1 far + 1 forklift + 7 hco + 7 kubevirt + 2 nmstate
    # + 1 nodemaintenance + 7 oadp + 3 olm + 7 openshift.
    assert len(names) == 38, names
    assert len([n for n in names if n.startswith("velero-")]) == 7, names


# -- the cases -----------------------------------------------------------------------------

MC_API = "machineconfiguration.openshift.io/v1"
COMPACT = (node("node-0", "master", "worker"), node("node-1", "master", "worker"),
           node("node-2", "master", "worker"))
EXPORTER_NS = "kubevirt-metrics-exporter"
EXPORTER_ENV = json.dumps({"LOG_LEVEL": "debug", "ENABLE_EBPF_NFS": False})


def _exporter(kind: str, api: str, plural: str, *, ns: bool = True,
              name: str = "kubevirt-metrics-exporter", check: Check | None = None) -> Obj:
    return Obj(api, kind, plural, name, EXPORTER_NS if ns else "", check)


CASES: tuple[FeatureCase, ...] = (
    FeatureCase(
        feature="kubelet-performance",
        kinds=("KubeletConfig",),
        switch={"platform.kubevirt.io/enable-kubelet-performance-settings": "true"},
        off_annotations={"platform.kubevirt.io/enable-kubelet-performance-settings": None},
        objects=(Obj(MC_API, "KubeletConfig", "kubeletconfigs", "virt-perf-settings",
                     check=_kubelet_performance),),
        drift={"spec": {"kubeletConfig": {"maxPods": 250}}},
        quiet_plurals=("kubeletconfigs",),
    ),
    FeatureCase(
        feature="cpu-manager",
        kinds=("KubeletConfig",),
        switch_spec={"featureGates": [{"name": "CPUManager", "state": "Enabled"}]},
        off_spec={"featureGates": [{"name": "CPUManager", "state": "Disabled"}]},
        objects=(Obj(MC_API, "KubeletConfig", "kubeletconfigs", "virt-cpu-manager",
                     check=_cpu_manager),),
        drift={"spec": {"kubeletConfig": {"reservedSystemCPUs": "0-3"}}},
        quiet_plurals=("kubeletconfigs",),
    ),
    FeatureCase(
        feature="pci-passthrough",
        kinds=("MachineConfig",),
        nodes=(node("worker-0", "worker",
                    labels={"feature.node.kubernetes.io/pci-present": "true"}),),
        switch={"platform.kubevirt.io/openshift": "true",
                "platform.kubevirt.io/enable-pci-passthrough": "true"},
        off_annotations={"platform.kubevirt.io/enable-pci-passthrough": "false"},
        objects=(mc("50-virt-pci-passthrough", "worker", _pci),),
        drift=MC_DRIFT,
    ),
    FeatureCase(
        feature="ksm-zero-pages",
        kinds=("MachineConfig",),
        namespaces=("openshift-monitoring",),
        nodes=COMPACT,
        existing=(("/api/v1/namespaces/openshift-monitoring/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cluster-monitoring-config", "namespace": "openshift-monitoring"},
            "data": {"config.yaml": "prometheusK8s:\n  retention: 15d\n"}}),),
        switch={"platform.kubevirt.io/enable-ksm-zero-only": "true"},
        # Configuring KSM on the HCO hands KSM back to the HCO: the feature steps aside.
        off_spec={"virtualization": {"ksmConfiguration": {"nodeLabelSelector": {}}}},
        objects=(
            mc("99-worker-ksm-zero-only", "worker", _ksm_mc),
            mc("99-master-ksm-zero-only", "master", _ksm_mc),
            Obj("v1", "ConfigMap", "configmaps", "cluster-monitoring-config",
                "openshift-monitoring", _ksm_config),
        ),
        drift=MC_DRIFT,
    ),
    FeatureCase(
        feature="thp-tuning",
        kinds=("MachineConfig",),
        nodes=COMPACT,
        switch={"platform.kubevirt.io/enable-thp-tuning": "true"},
        off_annotations={"platform.kubevirt.io/enable-thp-tuning": None},
        objects=(mc("99-worker-thp-tuning", "worker", _thp),
                 mc("99-master-thp-tuning", "master", _thp)),
        drift=MC_DRIFT,
    ),
    FeatureCase(
        feature="vm-drain-shutdown-inhibitor",
        kinds=("MachineConfig",),
        switch={"platform.kubevirt.io/enable-vm-drain-shutdown-inhibitor": "true"},
        off_annotations={"platform.kubevirt.io/enable-vm-drain-shutdown-inhibitor": "false"},
        objects=(mc("99-worker-vm-drain-shutdown-inhibitor", "worker", _vm_drain),),
        drift=MC_DRIFT,
    ),
    FeatureCase(
        feature="mtv",
        kinds=("ForkliftController",),
        namespaces=("openshift-mtv",),
        switch={"platform.kubevirt.io/enable-mtv": "true"},
        off_annotations={"platform.kubevirt.io/enable-mtv": None},
        objects=(Obj("forklift.konveyor.io/v1beta1", "ForkliftController",
                     "forkliftcontrollers", "forklift-controller", "openshift-mtv", _mtv),),
        drift={"spec": {"feature_validation": "false"}},
        quiet_plurals=("forkliftcontrollers",),
    ),
    FeatureCase(
        feature="metallb",
        kinds=("MetalLB",),
        namespaces=("metallb-system",),
        switch={"platform.kubevirt.io/enable-metallb": "true"},
        off_annotations={"platform.kubevirt.io/enable-metallb": None},
        objects=(Obj("metallb.io/v1beta1", "MetalLB", "metallbs", "metallb", "metallb-system",
                     _metallb),),
        drift={"spec": {"logLevel": "debug"}},
        quiet_plurals=("metallbs",),
    ),
    FeatureCase(
        feature="troubleshooting-panel",
        kinds=("UIPlugin",),
        switch={"platform.kubevirt.io/enable-korrel8r": "true"},
        off_annotations={"platform.kubevirt.io/enable-korrel8r": None},
        objects=(Obj("observability.openshift.io/v1alpha1", "UIPlugin", "uiplugins",
                     "troubleshooting-panel", check=_troubleshooting),),
        # Name and type are fixed by the CRD's rules; the ownership label is the field to
        # take over.
        drift={"metadata": {"labels": {"platform.kubevirt.io/managed-by": "admin"}}},
    ),
    FeatureCase(
        feature="logging",
        kinds=("UIPlugin", "LokiStack", "ClusterLogForwarder"),
        namespaces=("openshift-logging",),
        nodes=tuple(node(f"worker-{i}", "worker") for i in range(4)),
        existing=(("/apis/storage.k8s.io/v1/storageclasses", {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "standard-csi", "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "csi.example.com"}),),
        switch={"platform.kubevirt.io/enable-logging": "true",
                "platform.kubevirt.io/enable-audit-logging": "true"},
        # Audit logging is its own switch: both go off.
        off_annotations={"platform.kubevirt.io/enable-logging": None,
                         "platform.kubevirt.io/enable-audit-logging": None},
        objects=(
            Obj("loki.grafana.com/v1", "LokiStack", "lokistacks", "logging-loki",
                "openshift-logging", _lokistack),
            Obj("observability.openshift.io/v1", "ClusterLogForwarder", "clusterlogforwarders",
                "instance", "openshift-logging", _clf),
            Obj("v1", "ServiceAccount", "serviceaccounts", "collector", "openshift-logging"),
            *(Obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings",
                  f"collector-{role}", check=_binding(role))
              for role in ("collect-application-logs", "collect-infrastructure-logs",
                           "collect-audit-logs", "logging-collector-logs-writer")),
            Obj("observability.openshift.io/v1alpha1", "UIPlugin", "uiplugins", "logging",
                check=_logging_ui),
        ),
        drift={"spec": {"size": "1x.medium"}},
        quiet_plurals=("lokistacks", "clusterlogforwarders", "clusterrolebindings",
                       "serviceaccounts"),
    ),
    FeatureCase(
        feature="node-remediation",
        kinds=("NodeHealthCheck", "StorageBasedRemediationConfig"),
        namespaces=("openshift-workload-availability",),
        annotations={"platform.kubevirt.io/sbr-storage-class": "cephfs-rwx"},
        switch={"platform.kubevirt.io/enable-node-remediation": "true"},
        off_annotations={"platform.kubevirt.io/enable-node-remediation": None},
        objects=(
            Obj("remediation.medik8s.io/v1alpha1", "NodeHealthCheck", "nodehealthchecks", "far",
                check=_nhc),
            Obj("storage-based-remediation.medik8s.io/v1alpha1", "StorageBasedRemediationConfig",
                "storagebasedremediationconfigs", "sbr-config",
                "openshift-workload-availability", _sbr),
        ),
        drift={"spec": {"minHealthy": "75%"}},
        quiet_plurals=("nodehealthchecks", "storagebasedremediationconfigs"),
    ),
    FeatureCase(
        feature="kubevirt-metrics-exporter",
        kinds=("PrometheusRule", "PersesDashboard", "PersesDatasource",
               "SecurityContextConstraints", "PodMonitor"),
        env={"RELATED_IMAGE_KUBEVIRT_METRICS_EXPORTER": EXPORTER_IMAGE},
        annotations={"platform.kubevirt.io/kubevirt-metrics-exporter-env": EXPORTER_ENV},
        switch={"platform.kubevirt.io/enable-kubevirt-metrics-exporter": "true"},
        off_annotations={"platform.kubevirt.io/enable-kubevirt-metrics-exporter": None},
        objects=(
            _exporter("DaemonSet", "apps/v1", "daemonsets", check=_exporter_ds),
            Obj("v1", "Namespace", "namespaces", EXPORTER_NS),
            _exporter("ServiceAccount", "v1", "serviceaccounts"),
            _exporter("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", ns=False),
            _exporter("ClusterRoleBinding", "rbac.authorization.k8s.io/v1",
                      "clusterrolebindings", ns=False),
            _exporter("SecurityContextConstraints", "security.openshift.io/v1",
                      "securitycontextconstraints", ns=False, check=_exporter_scc),
            _exporter("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", ns=False,
                      name="kubevirt-metrics-exporter-scc"),
            _exporter("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings",
                      name="kubevirt-metrics-exporter-scc", check=_exporter_scc_use),
            _exporter("Role", "rbac.authorization.k8s.io/v1", "roles", name="prometheus-k8s"),
            _exporter("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings",
                      name="prometheus-k8s"),
            _exporter("PodMonitor", "monitoring.coreos.com/v1", "podmonitors",
                      check=_exporter_podmonitor),
            _exporter("PrometheusRule", "monitoring.coreos.com/v1", "prometheusrules",
                      check=_exporter_rule),
            _exporter("PersesDatasource", "perses.dev/v1alpha2", "persesdatasources",
                      name="kubevirt-metrics-exporter-thanos"),
            _exporter("PersesDashboard", "perses.dev/v1alpha2", "persesdashboards"),
        ),
        drift={"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 3}}}},
        quiet_plurals=("daemonsets", "securitycontextconstraints", "podmonitors",
                       "persesdatasources", "clusterroles", "clusterrolebindings", "roles",
                       "rolebindings", "serviceaccounts"),
    ),
    FeatureCase(
        feature="in-flight-operations",
        kinds=("OperationRuleSet",),
        switch={"platform.kubevirt.io/enable-in-flight-operations": "true"},
        off_annotations={"platform.kubevirt.io/enable-in-flight-operations": None},
        objects=tuple(Obj("ifo.kubevirt.io/v1alpha1", "OperationRuleSet", "operationrulesets",
                          name, check=_rule_set) for name in in_flight_rule_sets()),
        cluster_check=_rule_set_count,
        drift={"spec": {"component": "drifted"}},
        quiet_plurals=("operationrulesets",),
    ),
    FeatureCase(
        feature="load-aware-descheduler",
        kinds=("KubeDescheduler", "MachineConfig", "PersesDashboard", "PrometheusRule"),
        namespaces=("openshift-kube-descheduler-operator",),
        nodes=COMPACT,
        spec={"virtualization": {"liveMigrationConfig": {
            "parallelMigrationsPerCluster": 6, "parallelOutboundMigrationsPerNode": 3}}},
        existing=((
            "/apis/monitoring.coreos.com/v1/namespaces/openshift-kube-descheduler-operator/"
            "prometheusrules", {
                "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                "metadata": {"name": "descheduler-rules",
                             "namespace": "openshift-kube-descheduler-operator"},
                "spec": {"groups": [{"name": "descheduler", "rules": [{
                    "record": "descheduler:combined_utilization_and_pressure:avg1m",
                    "expr": "vector(0)"}]}]}}),),
        # GA and always on once its CRD exists: the allowlist form of the autopilot
        # annotation leaves it out.
        autopilot="hco-golden-config",
        switch={"platform.kubevirt.io/autopilot": "true"},
        off_annotations={"platform.kubevirt.io/autopilot": "hco-golden-config"},
        objects=(
            Obj("operator.openshift.io/v1", "KubeDescheduler", "kubedeschedulers", "cluster",
                "openshift-kube-descheduler-operator", _descheduler),
            mc("99-openshift-machineconfig-worker-psi-karg", "worker", _psi),
            mc("99-openshift-machineconfig-master-psi-karg", "master", _psi),
            Obj("perses.dev/v1alpha2", "PersesDashboard", "persesdashboards",
                "virt-load-aware-descheduler", HCO_NS, _descheduler_dashboard),
        ),
        drift={"spec": {"deschedulingIntervalSeconds": 3600}},
        quiet_plurals=("kubedeschedulers",),
    ),
)
