"""The controller's shipped RBAC (manifests/), granted to its service-account identity.

Integration tests run ``autopilot run`` as ``system:serviceaccount:openshift-cnv:
virt-platform-autopilot``, bound by the very ClusterRole and ClusterRoleBinding the
manifests ship, so a permission the generated role lacks fails a test (against
kubesim's RBAC and a real API server's alike).
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


def _binding() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(BINDING_FILE.read_text())
    return data


def granted(cluster: Cluster) -> bool:
    """Whether the shipped ClusterRoleBinding exists (a role was granted already)."""
    name = _binding()["metadata"]["name"]
    return cluster.api("GET", f"{RBAC_API}/clusterrolebindings/{name}")[0] == 200


def grant(cluster: Cluster, role: dict[str, Any] | None = None,
          edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
    """Apply the ClusterRole (shipped unless given) and the shipped binding, as admin."""
    role = role or shipped_role()
    if edit is not None:
        role = edit(role)
    for plural, obj in (("clusterroles", role), ("clusterrolebindings", _binding())):
        status, body = cluster.api(
            "PATCH", f"{RBAC_API}/{plural}/{obj['metadata']['name']}", body=obj,
            content_type="application/apply-patch+yaml",
            query={"fieldManager": "autopilot-tests", "force": "true"})
        assert status in (200, 201), body


def service_account_kubeconfig(cluster: Cluster) -> Path:
    """A kubeconfig authenticating as the controller's service account."""
    return cluster.kubeconfig_for(cluster.sa_token, "virt-platform-autopilot")
