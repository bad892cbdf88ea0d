"""Least privilege, as the shipped service account, on the install `kubectl apply -k` makes.

The manifests are applied as an admin (the namespaces of the operators the golden state
configures exist first, as the install says). Then, authenticated as
``system:serviceaccount:openshift-cnv:virt-platform-autopilot``: every escalation path
(widen or bind a role it writes, bind itself to admin/edit/cluster-admin, write RBAC or
workloads where the golden state does not, edit its own RBAC or Deployment, read
Secrets, mint tokens, impersonate, create pods or exec) is refused with 403, and
``kubectl auth can-i '*' '*'`` stays ``no`` after each. Its effective permissions
(SelfSubjectRulesReview per namespace, SelfSubjectAccessReview for cluster-scoped
objects) are exactly what the catalogue derives, nothing more.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from autopilot.golden.catalog import load_golden_state
from autopilot.golden.kinds import plural_of, rendered_objects
from autopilot.golden.rbacgen import merged_rules, plan_rbac
from tests.support import rbac
from tests.support.cluster import Cluster

PROJECT = Path(__file__).resolve().parents[2]
MANIFESTS = PROJECT / "manifests"
KUBECTL = shutil.which("kubectl")
NS = "openshift-cnv"
APP = "virt-platform-autopilot"
EXPORTER_NS = "kubevirt-metrics-exporter"
RBAC_API = "/apis/rbac.authorization.k8s.io/v1"
SA_SUBJECT = [{"kind": "ServiceAccount", "name": APP, "namespace": NS}]
# What every authenticated user holds on a bare kube-apiserver (system:basic-user).
BASIC = {("create", "authorization.k8s.io", "selfsubjectaccessreviews", ""),
         ("create", "authorization.k8s.io", "selfsubjectrulesreviews", ""),
         ("create", "authentication.k8s.io", "selfsubjectreviews", "")}

pytestmark = pytest.mark.needs_tool("kubectl")

Atom = tuple[str, str, str, str]  # verb, API group, resource, name ("" = any)


def _built() -> list[dict[str, Any]]:
    assert KUBECTL is not None
    proc = subprocess.run([KUBECTL, "kustomize", str(MANIFESTS)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return [d for d in YAML(typ="safe", pure=True).load_all(proc.stdout) if d]


@pytest.fixture
def installed(cluster: Cluster) -> Iterator[Cluster]:
    """``kubectl apply -k manifests/`` as an admin, after the operators' namespaces."""
    built = _built()
    namespaces = {NS} | {str(d["metadata"]["namespace"]) for d in built
                         if d["metadata"].get("namespace")}
    for name in sorted(namespaces):
        cluster.kubectl("create", "namespace", name)
    cluster.kubectl("apply", "--server-side", "--field-manager=install", "-k", str(MANIFESTS))
    _aggregate(cluster)
    yield cluster


# What the aggregation controller (kube-controller-manager, absent here) puts in the
# aggregated default roles; empty, binding to them would grant nothing and be allowed.
AGGREGATED = {
    "admin": [{"apiGroups": [""], "resources": ["secrets", "pods"], "verbs": ["*"]},
              {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles",
                                                                          "rolebindings"],
               "verbs": ["*"]}],
    "edit": [{"apiGroups": [""], "resources": ["secrets", "pods"], "verbs": ["*"]},
             {"apiGroups": ["apps"], "resources": ["deployments", "daemonsets"],
              "verbs": ["*"]}],
}


def _aggregate(cluster: Cluster) -> None:
    for name, rules in AGGREGATED.items():
        status, role = cluster.api("GET", f"{RBAC_API}/clusterroles/{name}")
        if status == 200 and role.get("rules"):
            continue  # filled by a real aggregation controller
        status, body = cluster.api(
            "PATCH", f"{RBAC_API}/clusterroles/{name}",
            body={"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                  "metadata": {"name": name}, "rules": rules},
            content_type="application/apply-patch+yaml",
            query={"fieldManager": "aggregation-stand-in", "force": "true"})
        assert status in (200, 201), body


def _as_account(cluster: Cluster, method: str, path: str, body: Any = None,
                **kwargs: Any) -> tuple[int, Any]:
    return cluster.api(method, path, body=body, token=cluster.sa_token, **kwargs)


def _apply(cluster: Cluster, path: str, obj: dict[str, Any]) -> tuple[int, Any]:
    return _as_account(cluster, "PATCH", path, obj, content_type="application/apply-patch+yaml",
                       query={"fieldManager": "virt-platform-autopilot", "force": "true"})


def _can_everything(cluster: Cluster) -> str:
    """``kubectl auth can-i '*' '*'`` as the account: its own answer, verbatim."""
    kubeconfig = rbac.service_account_kubeconfig(cluster)
    proc = cluster.kubectl("auth", "can-i", "*", "*", "--all-namespaces",
                           kubeconfig=kubeconfig, check=False)
    return proc.stdout.strip()


def _role(kind: str, name: str, rules: list[dict[str, Any]],
          namespace: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "rules": rules}


def _binding(kind: str, name: str, role_kind: str, role: str,
             namespace: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                        "name": role},
            "subjects": SA_SUBJECT}


EVERYTHING = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
SECRETS = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]


def _daemonset(name: str, namespace: str) -> dict[str, Any]:
    pod = {"metadata": {"labels": {"app": name}}, "spec": {
        "hostPID": True, "containers": [{"name": "c", "image": "registry.invalid/x:1",
                                         "securityContext": {"privileged": True}}]}}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": pod}}


def _ns_path(namespace: str, plural: str, name: str, group: str = RBAC_API) -> str:
    return f"{group}/namespaces/{namespace}/{plural}/{name}"


def _attempts() -> list[tuple[str, str, str, Any]]:
    """(what, method, path, body): each an escalation the account must not manage."""
    crb = f"{RBAC_API}/clusterrolebindings"
    apps = "/apis/apps/v1"
    return [
        ("widen the exporter ClusterRole to */*/*", "APPLY",
         f"{RBAC_API}/clusterroles/kubevirt-metrics-exporter",
         _role("ClusterRole", "kubevirt-metrics-exporter", EVERYTHING)),
        ("give the exporter ClusterRole secrets", "APPLY",
         f"{RBAC_API}/clusterroles/kubevirt-metrics-exporter-scc",
         _role("ClusterRole", "kubevirt-metrics-exporter-scc", SECRETS)),
        ("widen its own ClusterRole", "APPLY", f"{RBAC_API}/clusterroles/{APP}",
         _role("ClusterRole", APP, EVERYTHING)),
        ("rebind its own ClusterRoleBinding", "APPLY", f"{crb}/{APP}",
         _binding("ClusterRoleBinding", APP, "ClusterRole", "cluster-admin")),
        ("bind itself to cluster-admin under a golden-state name", "APPLY",
         f"{crb}/collector-collect-audit-logs",
         _binding("ClusterRoleBinding", "collector-collect-audit-logs", "ClusterRole",
                  "cluster-admin")),
        ("bind itself to cluster-admin", "APPLY", f"{crb}/escalate",
         _binding("ClusterRoleBinding", "escalate", "ClusterRole", "cluster-admin")),
        ("bind itself to admin in the exporter namespace", "APPLY",
         _ns_path(EXPORTER_NS, "rolebindings", "prometheus-k8s"),
         _binding("RoleBinding", "prometheus-k8s", "ClusterRole", "admin", EXPORTER_NS)),
        ("bind itself to edit in the exporter namespace", "APPLY",
         _ns_path(EXPORTER_NS, "rolebindings", "kubevirt-metrics-exporter-scc"),
         _binding("RoleBinding", "kubevirt-metrics-exporter-scc", "ClusterRole", "edit",
                  EXPORTER_NS)),
        ("bind itself to admin in kube-system", "APPLY",
         _ns_path("kube-system", "rolebindings", "prometheus-k8s"),
         _binding("RoleBinding", "prometheus-k8s", "ClusterRole", "admin", "kube-system")),
        ("a Role reading secrets in kube-system", "APPLY",
         _ns_path("kube-system", "roles", "prometheus-k8s"),
         _role("Role", "prometheus-k8s", SECRETS, "kube-system")),
        ("a Role reading secrets in the exporter namespace", "APPLY",
         _ns_path(EXPORTER_NS, "roles", "prometheus-k8s"),
         _role("Role", "prometheus-k8s", SECRETS, EXPORTER_NS)),
        ("a privileged DaemonSet in kube-system", "APPLY",
         _ns_path("kube-system", "daemonsets", "kubevirt-metrics-exporter", apps),
         _daemonset("kubevirt-metrics-exporter", "kube-system")),
        ("another DaemonSet in the exporter namespace", "APPLY",
         _ns_path(EXPORTER_NS, "daemonsets", "miner", apps), _daemonset("miner", EXPORTER_NS)),
        ("a DaemonSet by POST in the exporter namespace", "POST",
         f"{apps}/namespaces/{EXPORTER_NS}/daemonsets", _daemonset("miner", EXPORTER_NS)),
        ("edit its own Deployment", "PATCH", _ns_path(NS, "deployments", APP, apps),
         {"spec": {"replicas": 3}}),
        ("read Secrets in its namespace", "GET", f"/api/v1/namespaces/{NS}/secrets", None),
        ("read Secrets cluster-wide", "GET", "/api/v1/secrets", None),
        ("mint a token for itself", "POST",
         f"/api/v1/namespaces/{NS}/serviceaccounts/{APP}/token",
         {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}),
        ("create a pod", "POST", f"/api/v1/namespaces/{EXPORTER_NS}/pods",
         {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
          "spec": {"containers": [{"name": "c", "image": "registry.invalid/x:1"}]}}),
        ("exec into a pod", "POST", f"/api/v1/namespaces/{EXPORTER_NS}/pods/p/exec", None),
        ("a MachineConfig of its own naming", "APPLY",
         "/apis/machineconfiguration.openshift.io/v1/machineconfigs/99-evil",
         {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfig",
          "metadata": {"name": "99-evil"}, "spec": {}}),
        ("a ConfigMap in kube-system", "APPLY", "/api/v1/namespaces/kube-system/configmaps/x",
         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
    ]


def _send(cluster: Cluster, method: str, path: str, body: Any) -> tuple[int, Any]:
    if method == "APPLY":
        return _apply(cluster, path, body)
    ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
    return _as_account(cluster, method, path, body, content_type=ctype)


def test_every_escalation_path_is_refused(installed: Cluster) -> None:
    cluster = installed
    assert _can_everything(cluster) == "no"
    accepted = []
    for what, method, path, body in _attempts():
        status, answer = _send(cluster, method, path, body)
        if status != 403:
            accepted.append(f"{what}: {status} {answer}")
        assert _can_everything(cluster) == "no", f"after: {what}"
    impersonated = cluster.api("GET", f"/api/v1/namespaces/{NS}/secrets", token=cluster.sa_token,
                               headers={"Impersonate-User": "system:admin"})
    if impersonated[0] != 403:
        accepted.append(f"impersonate system:admin: {impersonated}")
    assert accepted == []
    assert _can_everything(cluster) == "no"


def _atoms(rules: list[dict[str, Any]]) -> set[Atom]:
    return {(str(v), str(g), str(r), str(n))
            for rule in rules for v in rule.get("verbs") or [] for g in rule.get("apiGroups") or []
            for r in rule.get("resources") or [] for n in rule.get("resourceNames") or [""]}


def _review(cluster: Cluster, namespace: str) -> set[Atom]:
    status, body = _as_account(cluster, "POST",
                               "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", {
                                   "apiVersion": "authorization.k8s.io/v1",
                                   "kind": "SelfSubjectRulesReview",
                                   "spec": {"namespace": namespace}})
    assert status == 201, body
    assert not body["status"].get("incomplete"), body["status"]
    return _atoms(body["status"]["resourceRules"]) - BASIC


def _lease_rules() -> list[dict[str, Any]]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(
        (MANIFESTS / "rbac" / "leader-election-role.yaml").read_text())
    return list(data["rules"])


def test_effective_permissions_are_what_the_catalogue_needs(installed: Cluster) -> None:
    cluster = installed
    golden = load_golden_state(PROJECT / "golden_state")
    found, _ = rendered_objects(golden)
    plan = plan_rbac(golden, [obj for _asset, obj in found])
    cluster_wide = _atoms(merged_rules(plan.cluster))
    for namespace in sorted({*plan.namespaced, "kube-system", "default"}):
        wanted = cluster_wide | _atoms(merged_rules(plan.namespaced.get(namespace, {})))
        if namespace == NS:
            wanted |= _atoms(_lease_rules())
        assert _review(cluster, namespace) == wanted, namespace
    # Cluster-scoped objects: written by name, the golden state's names only.
    for obj in (o for _asset, o in found if not o["metadata"].get("namespace")):
        group = obj["apiVersion"].rpartition("/")[0]
        resource = plural_of(obj["kind"], dict(golden.plurals))
        for verb in ("create", "patch"):
            assert _allowed(cluster, verb, group, resource, obj["metadata"]["name"]), obj
            assert not _allowed(cluster, verb, group, resource, "not-ours"), obj


def _allowed(cluster: Cluster, verb: str, group: str, resource: str, name: str) -> bool:
    status, body = _as_account(cluster, "POST",
                               "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
                                   "apiVersion": "authorization.k8s.io/v1",
                                   "kind": "SelfSubjectAccessReview",
                                   "spec": {"resourceAttributes": {
                                       "verb": verb, "group": group, "resource": resource,
                                       "name": name}}})
    assert status == 201, body
    return bool(body["status"]["allowed"])
