"""The opt-in features of the golden state as test cases (golden-state spec §2).

Each :class:`FeatureCase` says what a cluster needs for the feature to apply (CRDs,
namespaces, nodes, HCO annotations and spec, related-image env, pre-existing objects),
the objects the feature must then own with a check of their key settings, how to turn
the feature off again, and a drift to make after that which the controller must leave
alone.
"""

from __future__ import annotations

import json

from tests.support import feature_checks as checks
from tests.support.feature_objects import (
    EXPORTER_IMAGE,
    GOLDEN,
    MC_DRIFT,
    Check,
    FeatureCase,
    Obj,
    contains,
    in_flight_rule_sets,
    mc,
    node,
)
from tests.support.platform import HCO_NS

__all__ = ["CASES", "EXPORTER_ENV", "GOLDEN", "FeatureCase", "Obj", "contains",
           "node"]


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
                     check=checks.kubelet_performance),),
        drift={"spec": {"kubeletConfig": {"maxPods": 250}}},
        quiet_plurals=("kubeletconfigs",),
    ),
    FeatureCase(
        feature="cpu-manager",
        kinds=("KubeletConfig",),
        switch_spec={"featureGates": [{"name": "CPUManager", "state": "Enabled"}]},
        off_spec={"featureGates": [{"name": "CPUManager", "state": "Disabled"}]},
        objects=(Obj(MC_API, "KubeletConfig", "kubeletconfigs", "virt-cpu-manager",
                     check=checks.cpu_manager),),
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
        objects=(mc("50-virt-pci-passthrough", "worker", checks.pci),),
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
            mc("99-worker-ksm-zero-only", "worker", checks.ksm_mc),
            mc("99-master-ksm-zero-only", "master", checks.ksm_mc),
            Obj("v1", "ConfigMap", "configmaps", "cluster-monitoring-config",
                "openshift-monitoring", checks.ksm_config),
        ),
        drift=MC_DRIFT,
    ),
    FeatureCase(
        feature="thp-tuning",
        kinds=("MachineConfig",),
        nodes=COMPACT,
        switch={"platform.kubevirt.io/enable-thp-tuning": "true"},
        off_annotations={"platform.kubevirt.io/enable-thp-tuning": None},
        objects=(mc("99-worker-thp-tuning", "worker", checks.thp),
                 mc("99-master-thp-tuning", "master", checks.thp)),
        drift=MC_DRIFT,
    ),
    FeatureCase(
        feature="vm-drain-shutdown-inhibitor",
        kinds=("MachineConfig",),
        switch={"platform.kubevirt.io/enable-vm-drain-shutdown-inhibitor": "true"},
        off_annotations={"platform.kubevirt.io/enable-vm-drain-shutdown-inhibitor": "false"},
        objects=(mc("99-worker-vm-drain-shutdown-inhibitor", "worker", checks.vm_drain),),
        drift=MC_DRIFT,
    ),
    FeatureCase(
        feature="mtv",
        kinds=("ForkliftController",),
        namespaces=("openshift-mtv",),
        switch={"platform.kubevirt.io/enable-mtv": "true"},
        off_annotations={"platform.kubevirt.io/enable-mtv": None},
        objects=(Obj("forklift.konveyor.io/v1beta1", "ForkliftController",
                     "forkliftcontrollers", "forklift-controller", "openshift-mtv", checks.mtv),),
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
                     checks.metallb),),
        drift={"spec": {"logLevel": "debug"}},
        quiet_plurals=("metallbs",),
    ),
    FeatureCase(
        feature="troubleshooting-panel",
        kinds=("UIPlugin",),
        switch={"platform.kubevirt.io/enable-korrel8r": "true"},
        off_annotations={"platform.kubevirt.io/enable-korrel8r": None},
        objects=(Obj("observability.openshift.io/v1alpha1", "UIPlugin", "uiplugins",
                     "troubleshooting-panel", check=checks.troubleshooting),),
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
                "openshift-logging", checks.lokistack),
            Obj("observability.openshift.io/v1", "ClusterLogForwarder", "clusterlogforwarders",
                "instance", "openshift-logging", checks.clf),
            Obj("v1", "ServiceAccount", "serviceaccounts", "collector", "openshift-logging"),
            *(Obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings",
                  f"collector-{role}", check=checks.binding(role))
              for role in ("collect-application-logs", "collect-infrastructure-logs",
                           "collect-audit-logs", "logging-collector-logs-writer")),
            Obj("observability.openshift.io/v1alpha1", "UIPlugin", "uiplugins", "logging",
                check=checks.logging_ui),
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
                check=checks.nhc),
            Obj("storage-based-remediation.medik8s.io/v1alpha1", "StorageBasedRemediationConfig",
                "storagebasedremediationconfigs", "sbr-config",
                "openshift-workload-availability", checks.sbr),
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
            _exporter("DaemonSet", "apps/v1", "daemonsets", check=checks.exporter_ds),
            Obj("v1", "Namespace", "namespaces", EXPORTER_NS),
            _exporter("ServiceAccount", "v1", "serviceaccounts"),
            _exporter("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", ns=False),
            _exporter("ClusterRoleBinding", "rbac.authorization.k8s.io/v1",
                      "clusterrolebindings", ns=False),
            _exporter("SecurityContextConstraints", "security.openshift.io/v1",
                      "securitycontextconstraints", ns=False, check=checks.exporter_scc),
            _exporter("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", ns=False,
                      name="kubevirt-metrics-exporter-scc"),
            _exporter("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings",
                      name="kubevirt-metrics-exporter-scc", check=checks.exporter_scc_use),
            _exporter("Role", "rbac.authorization.k8s.io/v1", "roles", name="prometheus-k8s"),
            _exporter("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings",
                      name="prometheus-k8s"),
            _exporter("PodMonitor", "monitoring.coreos.com/v1", "podmonitors",
                      check=checks.exporter_podmonitor),
            _exporter("PrometheusRule", "monitoring.coreos.com/v1", "prometheusrules",
                      check=checks.exporter_rule),
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
                          name, check=checks.rule_set) for name in in_flight_rule_sets()),
        cluster_check=checks.rule_set_count,
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
                "openshift-kube-descheduler-operator", checks.descheduler),
            mc("99-openshift-machineconfig-worker-psi-karg", "worker", checks.psi),
            mc("99-openshift-machineconfig-master-psi-karg", "master", checks.psi),
            Obj("perses.dev/v1alpha2", "PersesDashboard", "persesdashboards",
                "virt-load-aware-descheduler", HCO_NS, checks.descheduler_dashboard),
        ),
        drift={"spec": {"deschedulingIntervalSeconds": 3600}},
        quiet_plurals=("kubedeschedulers",),
    ),
)
