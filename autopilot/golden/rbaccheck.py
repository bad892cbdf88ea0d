"""The least-privilege policy every shipped RBAC document must meet.

``autopilot rbac --check`` runs it over every manifest of the install (generated or
hand-edited) and the OLM CSV's ``permissions``/``clusterPermissions``, so a wider grant
fails CI whoever wrote it. Each problem is one line naming the file and the rule.

Refused: a ``*`` anywhere, non-resource URLs, any verb outside what the controller
uses (``escalate``, ``impersonate``, ``deletecollection``, ...), ``bind`` without
resourceNames, Secrets, tokens, exec/attach/port-forward/proxy, a write (create,
update, patch, delete) without resourceNames, except events (and the Lease's
``create`` in a namespaced Role), a cluster-wide write on a namespaced kind (events
aside), a binding to a role the manifests do not define, or to anything but a
ServiceAccount.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

ALLOWED_VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete",
                           "use", "bind"})
WRITE_VERBS = frozenset({"create", "update", "patch", "delete"})
SENSITIVE = frozenset({
    ("", "secrets"), ("", "serviceaccounts/token"), ("", "pods/exec"), ("", "pods/attach"),
    ("", "pods/portforward"), ("", "pods/proxy"), ("", "nodes/proxy"), ("", "services/proxy"),
    ("", "users"), ("", "groups"), ("authentication.k8s.io", "tokenreviews"),
    ("certificates.k8s.io", "certificatesigningrequests/approval"),
    ("certificates.k8s.io", "signers"),
})
EVENTS = frozenset({("", "events"), ("events.k8s.io", "events")})
# Writes no name can limit (POST): events anywhere, the Lease in the controller's own
# namespace (a Role only: a cluster-wide grant is refused as a namespaced write).
UNNAMED_WRITES = {("", "events"): {"create", "patch"},
                  ("events.k8s.io", "events"): {"create", "patch"},
                  ("coordination.k8s.io", "leases"): {"create"}}
# Namespaced kinds that carry workloads, credentials or RBAC: never written cluster-wide.
NAMESPACED = frozenset({
    ("", "pods"), ("", "replicationcontrollers"), ("", "services"), ("", "endpoints"),
    ("", "configmaps"), ("", "secrets"), ("", "serviceaccounts"),
    ("", "persistentvolumeclaims"), ("apps", "daemonsets"), ("apps", "deployments"),
    ("apps", "replicasets"), ("apps", "statefulsets"), ("batch", "jobs"),
    ("batch", "cronjobs"), ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"), ("coordination.k8s.io", "leases"),
    ("apps.openshift.io", "deploymentconfigs"), ("build.openshift.io", "buildconfigs"),
    ("build.openshift.io", "builds"), ("route.openshift.io", "routes"),
    ("networking.k8s.io", "networkpolicies"), ("kubevirt.io", "virtualmachines"),
    ("kubevirt.io", "virtualmachineinstances"),
})
ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")


@dataclass(frozen=True, slots=True)
class Grant:
    """The rules one document grants, and whether they apply cluster-wide."""

    where: str  # file, and the document in it
    rules: list[Any]
    cluster_wide: bool


def _rule_problems(rule: dict[str, Any], *, cluster_wide: bool,
                   namespaced: frozenset[tuple[str, str]]) -> Iterator[str]:
    fields = ("apiGroups", "resources", "verbs", "resourceNames")
    values = {f: [str(v) for v in rule.get(f) or []] for f in fields}
    if any("*" in v for f in fields for v in values[f]):
        yield "a wildcard"
    if rule.get("nonResourceURLs"):
        yield "non-resource URLs"
    verbs, names = set(values["verbs"]), values["resourceNames"]
    if verbs - ALLOWED_VERBS:
        yield f"verbs {', '.join(sorted(verbs - ALLOWED_VERBS))}"
    if "bind" in verbs and not names:
        yield "bind without resourceNames"
    for group in values["apiGroups"]:
        for resource in values["resources"]:
            what = f"{resource}.{group}" if group else resource
            if (group, resource) in SENSITIVE:
                yield f"{what} (sensitive)"
            writes = verbs & WRITE_VERBS
            if writes and not names and writes - UNNAMED_WRITES.get((group, resource), set()):
                yield f"{', '.join(sorted(writes))} on {what} without resourceNames"
            elif writes and cluster_wide and (group, resource) in namespaced \
                    and (group, resource) not in EVENTS:
                yield f"cluster-wide {', '.join(sorted(writes))} on namespaced {what}"


def rule_problems(grants: Iterable[Grant], *,
                  namespaced: Iterable[tuple[str, str]] = ()) -> list[str]:
    """Every policy violation of ``grants``, one line each."""
    kinds = NAMESPACED | frozenset(namespaced)
    out: list[str] = []
    for grant in grants:
        for index, rule in enumerate(grant.rules):
            if not isinstance(rule, dict):
                out.append(f"{grant.where}: rule {index + 1} is not a mapping")
                continue
            out.extend(f"{grant.where}: rule {index + 1} grants {problem}"
                       for problem in _rule_problems(rule, cluster_wide=grant.cluster_wide,
                                                     namespaced=kinds))
    return out


def _label(source: str, doc: dict[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
    return f"{source}: {doc.get('kind')} {where}{meta.get('name')}"


def grants_of(source: str, doc: dict[str, Any]) -> list[Grant]:
    """The grants of one document: a Role, a ClusterRole or a CSV's permissions."""
    kind = doc.get("kind")
    if kind in ROLE_KINDS:
        return [Grant(_label(source, doc), list(doc.get("rules") or []),
                      cluster_wide=kind == "ClusterRole")]
    if kind != "ClusterServiceVersion":
        return []
    spec = (((doc.get("spec") or {}).get("install") or {}).get("spec")) or {}
    out = []
    for field, cluster_wide in (("clusterPermissions", True), ("permissions", False)):
        for entry in spec.get(field) or []:
            out.append(Grant(f"{_label(source, doc)} {field}",
                             list((entry or {}).get("rules") or []), cluster_wide))
    return out


def binding_problems(source: str, doc: dict[str, Any],
                     defined: set[tuple[str, str]]) -> list[str]:
    """A binding must name a role the manifests define, and bind service accounts only."""
    if doc.get("kind") not in BINDING_KINDS:
        return []
    ref = doc.get("roleRef") or {}
    out = []
    if (str(ref.get("kind")), str(ref.get("name"))) not in defined:
        out.append(f"{_label(source, doc)}: binds {ref.get('kind')} {ref.get('name')}, "
                   "which the manifests do not define")
    for subject in doc.get("subjects") or []:
        if (subject or {}).get("kind") != "ServiceAccount":
            out.append(f"{_label(source, doc)}: binds {subject.get('kind')} "
                       f"{subject.get('name')}, not a ServiceAccount")
    return out
