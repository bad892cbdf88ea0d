"""The controller's shipped RBAC (manifests/), granted to its service-account identity.

Integration tests run ``autopilot run`` as ``system:serviceaccount:openshift-cnv:
virt-platform-autopilot``, bound by the very ClusterRole and ClusterRoleBinding the
manifests ship, and by the leader-election Role and RoleBinding in ``openshift-cnv``
(the only grant of leases), so a permission the shipped RBAC lacks fails a test
(against kubesim's RBAC and a real API server's alike).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.support.cluster import Cluster

PROJECT = Path(__file__).resolve().parents[2]
ROLE_FILE = PROJECT / "manifests" / "rbac" / "clusterrole.yaml"
BINDING_FILE = PROJECT / "manifests" / "clusterrolebinding.yaml"
LEASE_ROLE_FILE = PROJECT / "manifests" / "rbac" / "leader-election-role.yaml"
LEASE_BINDING_FILE = PROJECT / "manifests" / "leader-election-rolebinding.yaml"
# The install namespace (manifests/kustomization.yaml): the service account's, the Lease's.
NAMESPACE = "openshift-cnv"
RBAC_API = "/apis/rbac.authorization.k8s.io/v1"

Rule = dict[str, Any]


def shipped_role() -> dict[str, Any]:
    """The generated ClusterRole as shipped."""
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(ROLE_FILE.read_text())
    return data


def without(role: dict[str, Any], *, group: str, resource: str, verb: str) -> dict[str, Any]:
    """``role`` minus one verb on one resource (other resources of its rules keep it)."""
    out = copy.deepcopy(role)
    rules: list[Rule] = []
    for rule in out["rules"]:
        if group in rule.get("apiGroups", []) and resource in rule.get("resources", []) \
                and verb in rule.get("verbs", []):
            others = [r for r in rule["resources"] if r != resource]
            if others:
                rules.append({**rule, "resources": others})
            verbs = [v for v in rule["verbs"] if v != verb]
            if verbs:
                rules.append({**rule, "resources": [resource], "verbs": verbs})
        else:
            rules.append(rule)
    out["rules"] = rules
    return out


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(path.read_text())
    return data


def _binding() -> dict[str, Any]:
    return _load(BINDING_FILE)


def granted(cluster: Cluster) -> bool:
    """Whether the shipped ClusterRoleBinding exists (a role was granted already)."""
    name = _binding()["metadata"]["name"]
    return cluster.api("GET", f"{RBAC_API}/clusterrolebindings/{name}")[0] == 200


def grant(cluster: Cluster, role: dict[str, Any] | None = None,
          edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
    """Apply the ClusterRole (shipped unless given) and the rest of the shipped RBAC, as admin.

    The rest: the ClusterRoleBinding, and the leader-election Role and RoleBinding in
    the install namespace (created first when missing, as the install does).
    """
    role = role or shipped_role()
    if edit is not None:
        role = edit(role)
    for plural, obj in (("clusterroles", role), ("clusterrolebindings", _binding())):
        _apply(cluster, f"{RBAC_API}/{plural}/{obj['metadata']['name']}", obj)
    _ensure_namespace(cluster, NAMESPACE)
    for plural, obj in (("roles", _load(LEASE_ROLE_FILE)),
                        ("rolebindings", _load(LEASE_BINDING_FILE))):
        obj["metadata"]["namespace"] = NAMESPACE
        _apply(cluster, f"{RBAC_API}/namespaces/{NAMESPACE}/{plural}/{obj['metadata']['name']}",
               obj)


def _apply(cluster: Cluster, path: str, obj: dict[str, Any]) -> None:
    status, body = cluster.api("PATCH", path, body=obj,
                               content_type="application/apply-patch+yaml",
                               query={"fieldManager": "autopilot-tests", "force": "true"})
    assert status in (200, 201), body


def _ensure_namespace(cluster: Cluster, name: str) -> None:
    status, body = cluster.api("POST", "/api/v1/namespaces", body={
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert status in (201, 409), body


def service_account_kubeconfig(cluster: Cluster) -> Path:
    """A kubeconfig authenticating as the controller's service account."""
    return cluster.kubeconfig_for(cluster.sa_token, "virt-platform-autopilot")
