"""The controller's shipped RBAC (manifests/), granted to its service-account identity.

Integration tests run ``autopilot run`` as ``system:serviceaccount:openshift-cnv:
virt-platform-autopilot``, bound by the very ClusterRole and ClusterRoleBinding the
manifests ship, by the generated Role and RoleBinding in each namespace the golden
state writes to (``manifests/rbac/namespaced.yaml``) and by the leader-election Role
and RoleBinding in ``openshift-cnv`` (the only grant of leases), so a permission the
shipped RBAC lacks fails a test (against kubesim's RBAC and a real API server's alike).
A test running its own golden state gets the RBAC generated for it, the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from autopilot.golden.catalog import load_golden_state
from autopilot.golden.rbacdocs import CLUSTER_ROLE_FILE as CLUSTER_ROLE_FILE_REL
from autopilot.golden.rbacdocs import NAMESPACED_FILE as NAMESPACED_FILE_REL
from autopilot.golden.rbacdocs import generated_files
from tests.support.cluster import Cluster

PROJECT = Path(__file__).resolve().parents[2]
ROLE_FILE = PROJECT / "manifests" / "rbac" / "clusterrole.yaml"
BINDING_FILE = PROJECT / "manifests" / "clusterrolebinding.yaml"
LEASE_ROLE_FILE = PROJECT / "manifests" / "rbac" / "leader-election-role.yaml"
LEASE_BINDING_FILE = PROJECT / "manifests" / "leader-election-rolebinding.yaml"
NAMESPACED_FILE = PROJECT / "manifests" / "rbac" / "namespaced.yaml"
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


def namespaced_documents(golden: Path | None = None) -> list[dict[str, Any]]:
    """The Namespaces, Roles and RoleBindings of manifests/rbac/namespaced.yaml.

    Generated for ``golden`` (a golden-state directory) when given, as shipped otherwise.
    """
    if golden is None:
        text = NAMESPACED_FILE.read_text()
    else:
        text = generated_files(load_golden_state(golden))[0][NAMESPACED_FILE_REL]
    return [d for d in YAML(typ="safe", pure=True).load_all(text) if d]


def generated_role(golden: Path) -> dict[str, Any]:
    """The ClusterRole ``autopilot rbac`` generates for the golden state at ``golden``."""
    text = generated_files(load_golden_state(golden))[0][CLUSTER_ROLE_FILE_REL]
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(text)
    return data


def grant(cluster: Cluster, role: dict[str, Any] | None = None,
          edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
          *, golden: Path | None = None, only_existing_namespaces: bool = False) -> None:
    """Apply the shipped RBAC (or the one generated for ``golden``), as admin.

    ``role`` replaces the ClusterRole; ``edit`` changes the ClusterRole and every
    namespaced Role (e.g. :func:`without` one verb). Then the ClusterRoleBinding, the
    namespaced Roles and RoleBindings (their namespaces created first when missing: the
    operators owning them are installed; with ``only_existing_namespaces``, a namespace
    that does not exist gets none, as a ``kubectl apply -k`` before the operator's
    install would leave it) and the leader-election Role and RoleBinding.
    """
    role = role or (generated_role(golden) if golden else shipped_role())
    if edit is not None:
        role = edit(role)
    for plural, obj in (("clusterroles", role), ("clusterrolebindings", _binding())):
        _apply(cluster, f"{RBAC_API}/{plural}/{obj['metadata']['name']}", obj)
    _ensure_namespace(cluster, NAMESPACE)
    docs = namespaced_documents(golden)
    for doc in docs:
        if doc["kind"] == "Namespace":
            _ensure_namespace(cluster, doc["metadata"]["name"])
    for plural, obj in [(d["kind"].lower() + "s", d) for d in docs if d["kind"] != "Namespace"] \
            + [("roles", _load(LEASE_ROLE_FILE)), ("rolebindings", _load(LEASE_BINDING_FILE))]:
        if plural == "roles" and edit is not None:
            obj = edit(obj)
        namespace = obj["metadata"]["namespace"]
        if only_existing_namespaces and namespace != NAMESPACE and cluster.api(
                "GET", f"/api/v1/namespaces/{namespace}")[0] == 404:
            continue
        _ensure_namespace(cluster, namespace)
        _apply(cluster, f"{RBAC_API}/namespaces/{namespace}/{plural}/{obj['metadata']['name']}",
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
