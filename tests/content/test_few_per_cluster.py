"""The kinds the golden state watches whole are managed kinds a cluster holds few of.

A kind declared ``few_per_cluster`` is watched and cached whole, every object of
the cluster: never one a cluster holds many or large objects of (rendered
MachineConfigs are hundreds of KB each; ConfigMaps, Nodes, Namespaces and RBAC
objects number in the thousands on a busy cluster). A kind declared
``hundreds_per_cluster`` is watched whole but its objects not ours are kept as a
name: never one whose count grows with the namespaces (every namespace holds its
service accounts, role bindings, ConfigMaps ...), so the cache of names stays
bounded by what the platform's operators make.
"""

from __future__ import annotations

from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import one_namespace_of, rendered_keys, rendered_objects

PER_NAMESPACE = {
    ("", "ConfigMap"), ("", "Node"), ("", "Namespace"), ("", "Secret"), ("", "Service"),
    ("", "ServiceAccount"), ("", "Pod"), ("", "Event"),
    ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "RoleBinding"),
}
NEVER_WHOLE = PER_NAMESPACE | {
    ("machineconfiguration.openshift.io", "MachineConfig"),
    ("apps", "DaemonSet"), ("monitoring.coreos.com", "PrometheusRule"),
    ("monitoring.coreos.com", "ServiceMonitor"), ("monitoring.coreos.com", "PodMonitor"),
    *(("rbac.authorization.k8s.io", k) for k in ("ClusterRole", "ClusterRoleBinding")),
}


def _managed(golden: GoldenState) -> set[tuple[str, str]]:
    objects, _ = rendered_objects(golden)
    return {(str(o["apiVersion"]).rpartition("/")[0], str(o["kind"])) for _, o in objects}


def test_every_kind_watched_whole_is_a_managed_kind_a_cluster_holds_few_of(
        golden: GoldenState) -> None:
    managed = _managed(golden)
    assert golden.few_per_cluster, "nothing declared"
    assert golden.few_per_cluster <= managed, golden.few_per_cluster - managed
    assert not golden.few_per_cluster & NEVER_WHOLE, golden.few_per_cluster & NEVER_WHOLE


def test_every_kind_watched_whole_as_names_is_managed_and_not_one_per_namespace(
        golden: GoldenState) -> None:
    managed = _managed(golden)
    assert golden.hundreds_per_cluster, "nothing declared"
    assert golden.hundreds_per_cluster <= managed, golden.hundreds_per_cluster - managed
    assert not golden.hundreds_per_cluster & PER_NAMESPACE, (
        golden.hundreds_per_cluster & PER_NAMESPACE)


# A namespace may hold many or large objects of these (openshift-monitoring's rule files
# are ConfigMaps of megabytes, rewritten whenever any PrometheusRule changes).
NEVER_IN_ONE_NAMESPACE = {("", "ConfigMap"), ("", "Secret"), ("", "Pod"), ("", "Event")}


def test_every_kind_watched_in_its_namespace_is_rendered_into_exactly_one(
        golden: GoldenState) -> None:
    objects, _ = rendered_objects(golden, namespace="some-namespace")
    assert golden.in_one_namespace, "nothing declared"
    namespaces = one_namespace_of(golden, objects)  # raises for none or several
    assert set(namespaces) == golden.in_one_namespace
    assert namespaces[("", "Service")] == "some-namespace"  # follows the controller's
    assert not golden.in_one_namespace & NEVER_IN_ONE_NAMESPACE


def test_every_kind_watched_by_name_is_rendered_as_a_few_objects(golden: GoldenState) -> None:
    """A handful of objects, kept whole whatever their labels (each replaces a census).
    Several share one watch of their kind, which sends every object of the kind and
    keeps theirs alone: never a kind whose objects may be large (a ConfigMap, a
    Secret), since each crosses the network to be dropped."""
    keys = rendered_keys(rendered_objects(golden)[0])
    assert golden.by_name, "nothing declared"
    for kind in golden.by_name:
        assert 1 <= len(keys.get(kind, ())) <= 3, (kind, keys.get(kind))
        assert len(keys[kind]) == 1 or kind not in NEVER_IN_ONE_NAMESPACE, (kind, keys[kind])
