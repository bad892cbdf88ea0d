"""The kinds the golden state watches whole are managed kinds a cluster holds few of.

A kind declared ``few_per_cluster`` is watched and cached whole, every object of
the cluster: never one a cluster holds many or large objects of (rendered
MachineConfigs are hundreds of KB each; ConfigMaps, Nodes, Namespaces and RBAC
objects number in the thousands on a busy cluster).
"""

from __future__ import annotations

from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import rendered_objects

NEVER_WHOLE = {
    ("machineconfiguration.openshift.io", "MachineConfig"), ("", "ConfigMap"), ("", "Node"),
    ("", "Namespace"), ("", "Secret"), ("", "Service"), ("", "ServiceAccount"),
    ("apps", "DaemonSet"), ("monitoring.coreos.com", "PrometheusRule"),
    ("monitoring.coreos.com", "ServiceMonitor"), ("monitoring.coreos.com", "PodMonitor"),
    *(("rbac.authorization.k8s.io", k)
      for k in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")),
}


def test_every_kind_watched_whole_is_a_managed_kind_a_cluster_holds_few_of(
        golden: GoldenState) -> None:
    objects, _ = rendered_objects(golden)
    managed = {(str(o["apiVersion"]).rpartition("/")[0], str(o["kind"])) for _, o in objects}
    assert golden.few_per_cluster, "nothing declared"
    assert golden.few_per_cluster <= managed, golden.few_per_cluster - managed
    assert not golden.few_per_cluster & NEVER_WHOLE, golden.few_per_cluster & NEVER_WHOLE
