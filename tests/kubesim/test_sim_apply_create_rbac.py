"""RBAC semantics the least-privilege install relies on, identical in kubesim and a real server.

An apply that creates is authorised as ``create`` on the applied name (so ``create``
limited by resourceNames covers it, and ``patch`` alone does not); a
SelfSubjectRulesReview lists the rules a namespace grants; a request to a subresource
the account may not use is a 403 whether or not the server serves it.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.cluster import Cluster
from tests.support.wait import eventually_sync

RBAC = "/apis/rbac.authorization.k8s.io/v1"
ACCOUNT = {"kind": "ServiceAccount", "name": "virt-platform-autopilot",
           "namespace": "openshift-cnv"}


def _grant(cluster: Cluster, namespace: str, verbs: list[str]) -> None:
    name = f"r-{uuid.uuid4().hex[:6]}"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": verbs,
                       "resourceNames": ["mine"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": name, "namespace": namespace},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": name},
               "subjects": [ACCOUNT]}
    for plural, body in (("roles", role), ("rolebindings", binding)):
        status, answer = cluster.api("POST", f"{RBAC}/namespaces/{namespace}/{plural}",
                                     body=body)
        assert status == 201, answer


def _apply(cluster: Cluster, namespace: str, name: str) -> tuple[int, Any]:
    return cluster.api("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/{name}",
                       body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                             "data": {"a": "b"}},
                       content_type="application/apply-patch+yaml",
                       query={"fieldManager": "t"}, token=cluster.sa_token)


def test_apply_create_needs_create_on_the_name(cluster: Cluster) -> None:
    namespace = cluster.new_namespace("apply")
    _grant(cluster, namespace, ["patch"])
    status, body = eventually_sync(
        lambda: (lambda r: r if r[0] == 403 and "cannot create" in r[1]["message"] else None)(
            _apply(cluster, namespace, "mine")), what="apply-create refused without create")
    assert 'cannot create resource "configmaps"' in body["message"]
    _grant(cluster, namespace, ["create"])
    eventually_sync(lambda: _apply(cluster, namespace, "mine")[0] == 201,
                    what="apply-create allowed with create on the name")
    status, body = _apply(cluster, namespace, "other")
    assert status == 403 and 'cannot patch resource "configmaps"' in body["message"], body


def test_rules_review_lists_the_namespace_grants(cluster: Cluster) -> None:
    namespace = cluster.new_namespace("rules")
    _grant(cluster, namespace, ["get", "patch"])

    def rules() -> list[dict[str, Any]]:
        status, body = cluster.api(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            body={"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                  "spec": {"namespace": namespace}}, token=cluster.sa_token)
        assert status == 201, body
        # Only the rule naming "mine": on a shared server the account may also hold the
        # shipped ClusterRole (granted by an earlier test), whose ConfigMap rules the
        # review lists too.
        return [r for r in body["status"]["resourceRules"]
                if "configmaps" in r["resources"] and "mine" in r.get("resourceNames", [])]

    eventually_sync(lambda: rules() == [{"verbs": ["get", "patch"], "apiGroups": [""],
                                         "resources": ["configmaps"],
                                         "resourceNames": ["mine"]}],
                    what="the Role's rule in the review")


def test_an_unused_subresource_is_forbidden_not_missing(cluster: Cluster) -> None:
    for path in ("/api/v1/namespaces/default/pods/p/exec",
                 "/api/v1/namespaces/default/serviceaccounts/default/token"):
        status, body = cluster.api("POST", path, body={}, token=cluster.sa_token)
        assert status == 403, (path, body)
