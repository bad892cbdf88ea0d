"""RBAC as the API server enforces it, for an identity outside system:masters.

These run against kubesim and, with KUBEBUILDER_ASSETS, against a real
kube-apiserver started with ``--authorization-mode=RBAC``: the service-account
identity of the ``cluster`` fixture is bound only by what each test creates.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.cluster import Cluster
from tests.support.wait import eventually_sync

# Each test grants cluster-wide roles to the service account: on a real server it needs one
# no other test's grants reach.
pytestmark = pytest.mark.fresh_server("grants cluster-wide RBAC")

RBAC = "/apis/rbac.authorization.k8s.io/v1"
CM = "/api/v1/namespaces/default/configmaps"


def _create(cluster: Cluster, path: str, obj: dict[str, Any], *, token: str | None = None
            ) -> tuple[int, Any]:
    return cluster.api("POST", path, body=obj, token=token)


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name}, "rules": rules}


def _binding(kind: str, name: str, role_kind: str, role: str, subject: dict[str, Any],
             namespace: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                        "name": role},
            "subjects": [subject]}


def _sa_subject(cluster: Cluster) -> dict[str, Any]:
    _, _, namespace, name = cluster.sa_user.split(":")
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def _grant(cluster: Cluster, name: str, rules: list[dict[str, Any]]) -> None:
    assert _create(cluster, f"{RBAC}/clusterroles", _cluster_role(name, rules))[0] == 201
    binding = _binding("ClusterRoleBinding", name, "ClusterRole", name, _sa_subject(cluster))
    assert _create(cluster, f"{RBAC}/clusterrolebindings", binding)[0] == 201


def _status_as_sa(cluster: Cluster, method: str, path: str, body: Any = None) -> int:
    return cluster.api(method, path, body=body, token=cluster.sa_token)[0]


def test_unbound_identity_is_refused_with_the_authorizers_words(cluster: Cluster) -> None:
    status, body = cluster.api("GET", CM, token=cluster.sa_token)
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        f'configmaps is forbidden: User "{cluster.sa_user}" cannot list resource '
        f'"configmaps" in API group "" in the namespace "default"')
    status, body = cluster.api("GET", "/api/v1/nodes/n1", token=cluster.sa_token)
    assert status == 403
    assert body["message"].endswith('cannot get resource "nodes" in API group "" at the '
                                    'cluster scope')
    # Discovery stays open to every authenticated identity.
    assert cluster.api("GET", "/apis", token=cluster.sa_token)[0] == 200


def test_cluster_role_binding_grants_verbs_and_names(cluster: Cluster) -> None:
    _grant(cluster, "cm-reader", [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch"],
         "resourceNames": ["only-this"]},
    ])
    eventually_sync(lambda: _status_as_sa(cluster, "GET", CM) == 200, what="list granted")
    assert _status_as_sa(cluster, "POST", CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                               "metadata": {"name": "x"}}) == 403
    for name in ("only-this", "other"):
        assert cluster.api("POST", CM, body={"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": name}})[0] == 201
    patch = {"data": {"a": "1"}}
    ctype = "application/merge-patch+json"
    assert cluster.api("PATCH", f"{CM}/only-this", body=patch, content_type=ctype,
                       token=cluster.sa_token)[0] == 200
    status, body = cluster.api("PATCH", f"{CM}/other", body=patch, content_type=ctype,
                               token=cluster.sa_token)
    assert status == 403 and body["message"].startswith('configmaps "other" is forbidden')


def test_role_binding_grants_only_in_its_namespace(cluster: Cluster) -> None:
    for ns in ("team-a", "team-b"):
        cluster.api("POST", "/api/v1/namespaces",
                    body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "cm", "namespace": "team-a"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]}
    assert _create(cluster, f"{RBAC}/namespaces/team-a/roles", role)[0] == 201
    group = {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io",
             "name": "system:serviceaccounts"}
    binding = _binding("RoleBinding", "cm", "Role", "cm", group, namespace="team-a")
    assert _create(cluster, f"{RBAC}/namespaces/team-a/rolebindings", binding)[0] == 201
    eventually_sync(lambda: _status_as_sa(cluster, "GET",
                                          "/api/v1/namespaces/team-a/configmaps") == 200,
                    what="namespaced grant through a group subject")
    assert _status_as_sa(cluster, "GET", "/api/v1/namespaces/team-b/configmaps") == 403
    assert _status_as_sa(cluster, "GET", "/api/v1/configmaps") == 403


def test_subresource_rules(cluster: Cluster) -> None:
    _grant(cluster, "status-writer", [
        {"apiGroups": ["apps"], "resources": ["*/status"], "verbs": ["get"]},
    ])
    ds = "/apis/apps/v1/namespaces/default/deployments/d"
    status, body = cluster.api("GET", ds, token=cluster.sa_token)
    assert status == 403 and 'cannot get resource "deployments"' in body["message"]
    # The subresource is allowed (and is then answered 404: the object does not exist).
    eventually_sync(lambda: _status_as_sa(cluster, "GET", f"{ds}/status") == 404,
                    what="*/status granted")


def test_escalation_is_refused_without_escalate_or_bind(cluster: Cluster) -> None:
    _grant(cluster, "role-admin", [
        {"apiGroups": ["rbac.authorization.k8s.io"],
         "resources": ["clusterroles", "clusterrolebindings"], "verbs": ["create", "patch"]},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
         "verbs": ["escalate"], "resourceNames": ["may-escalate"]},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
         "verbs": ["bind"], "resourceNames": ["may-bind"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
    ])
    eventually_sync(lambda: _status_as_sa(cluster, "GET", f"{CM}/none") == 404,
                    what="grant in effect")
    wide = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    held = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
    status, body = _create(cluster, f"{RBAC}/clusterroles", _cluster_role("too-wide", wide),
                           token=cluster.sa_token)
    assert status == 403
    assert "is attempting to grant RBAC permissions not currently held" in body["message"]
    assert "secrets" in body["message"]
    assert _create(cluster, f"{RBAC}/clusterroles", _cluster_role("narrow", held),
                   token=cluster.sa_token)[0] == 201
    # ``escalate`` limited by resourceNames covers requests naming the role in their path:
    # a POST to the collection names none and is refused; a server-side apply is allowed.
    status, body = _create(cluster, f"{RBAC}/clusterroles", _cluster_role("may-escalate", wide),
                           token=cluster.sa_token)
    assert status == 403 and "not currently held" in body["message"], body
    status, body = cluster.api("PATCH", f"{RBAC}/clusterroles/may-escalate",
                               body=_cluster_role("may-escalate", wide), token=cluster.sa_token,
                               content_type="application/apply-patch+yaml",
                               query={"fieldManager": "tests"})
    assert status == 201, body
    # Bindings: allowed to a role whose permissions are held or with bind on it. (A real
    # server resolves the bound role from its cache: a role created a moment ago may
    # need another try.)
    assert _create(cluster, f"{RBAC}/clusterroles", _cluster_role("may-bind", wide))[0] == 201
    someone = {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "someone"}
    for role in ("narrow", "may-bind"):
        binding = _binding("ClusterRoleBinding", f"b-{role}", "ClusterRole", role, someone)
        eventually_sync(lambda b=binding: _create(cluster, f"{RBAC}/clusterrolebindings", b,
                                                  token=cluster.sa_token)[0] == 201,
                        what=f"binding to {role} allowed")
    binding = _binding("ClusterRoleBinding", "b-may-escalate", "ClusterRole", "may-escalate",
                       someone)

    def refused() -> bool:
        status, body = _create(cluster, f"{RBAC}/clusterrolebindings", binding,
                               token=cluster.sa_token)
        assert status == 403, body
        return "not currently held" in body["message"]

    eventually_sync(refused, what="binding to a role with unheld permissions refused")


def test_impersonation_takes_the_impersonated_identitys_permissions(cluster: Cluster) -> None:
    # The admin (system:masters) may impersonate; the service account then has its groups.
    status, body = cluster.api("GET", CM, headers={"Impersonate-User": cluster.sa_user})
    assert status == 403 and f'User "{cluster.sa_user}"' in body["message"]
    _grant(cluster, "cm-lister", [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}])
    eventually_sync(lambda: cluster.api("GET", CM, headers={
        "Impersonate-User": cluster.sa_user})[0] == 200, what="impersonated grant")
    # An identity outside system:masters may not impersonate without the verb.
    status, body = cluster.api("GET", CM, token=cluster.sa_token,
                               headers={"Impersonate-User": "someone-else"})
    assert status == 403
    # v1.36 words it for the request refused (constrained impersonation's verbs).
    assert body["message"] == (f'configmaps is forbidden: User "{cluster.sa_user}" cannot '
                               'impersonate-on:user-info:list resource "configmaps" in API '
                               'group "" in the namespace "default"')
    status, body = cluster.api("GET", "/apis", token=cluster.sa_token,
                               headers={"Impersonate-User": "system:serviceaccount:default:x"})
    assert status == 403 and body["message"] == (
        f'forbidden: User "{cluster.sa_user}" cannot impersonate-on:serviceaccount:get '
        'path "/apis"')


def test_self_subject_access_review(cluster: Cluster) -> None:
    _grant(cluster, "cm-patcher", [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch"]}])

    def allowed(verb: str) -> bool:
        status, body = cluster.api(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            token=cluster.sa_token,
            body={"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"namespace": "default", "verb": verb,
                                                  "resource": "configmaps"}}})
        assert status == 201, body
        return bool(body["status"]["allowed"])

    eventually_sync(lambda: allowed("patch"), what="patch allowed")
    assert not allowed("delete")
