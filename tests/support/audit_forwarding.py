"""How the Cluster Logging Operator's audit filters treat one audit event.

A model of two filter types as the operator documents them, for tests of the
ClusterLogForwarder's audit pipeline: ``kubeAPIAudit`` (Kubernetes audit policy rules:
the first rule that matches decides the level, ``None`` drops; the response codes in
``omitResponseCodes`` are dropped, [404, 409, 422, 429] when the field is unset, none
when it is ``[]``) and ``drop`` (a record is dropped when every condition of one of its
tests holds; a condition on a missing field is false).
"""

from __future__ import annotations

import re
from typing import Any

DEFAULT_OMITTED = (404, 409, 422, 429)

PERSON = {"username": "alice@example.com", "groups": ["sre", "system:authenticated"]}
SERVICE_ACCOUNT = {"username": "system:serviceaccount:tenant-a:deployer",
                   "groups": ["system:serviceaccounts", "system:serviceaccounts:tenant-a",
                              "system:authenticated"]}
NODE = {"username": "system:node:worker-1", "groups": ["system:nodes", "system:authenticated"]}


def event(user: dict[str, Any], verb: str, *, resource: str = "", group: str = "",
          namespace: str = "", name: str = "", uri: str = "", code: int = 200) -> dict[str, Any]:
    """A ResponseComplete audit event."""
    out: dict[str, Any] = {"kind": "Event", "apiVersion": "audit.k8s.io/v1",
                           "stage": "ResponseComplete", "verb": verb, "user": user,
                           "requestURI": uri or f"/api/v1/namespaces/{namespace}/{resource}",
                           "responseStatus": {"code": code}}
    if resource:
        out["objectRef"] = {"resource": resource, "apiGroup": group, "namespace": namespace,
                            "name": name}
    return out


def rule_matches(rule: dict[str, Any], ev: dict[str, Any]) -> bool:
    user = ev["user"]
    if "users" in rule and user["username"] not in rule["users"]:
        return False
    if "userGroups" in rule and not set(rule["userGroups"]) & set(user.get("groups", [])):
        return False
    if "verbs" in rule and ev["verb"] not in rule["verbs"]:
        return False
    ref = ev.get("objectRef")
    if "resources" in rule and (ref is None or not any(
        (r.get("group") or "") == (ref.get("apiGroup") or "")
        and (not r.get("resources") or ref["resource"] in r["resources"])
        for r in rule["resources"]
    )):
        return False
    if "namespaces" in rule and (ref is None or ref.get("namespace") not in rule["namespaces"]):
        return False
    if "nonResourceURLs" in rule:
        path = ev["requestURI"].split("?")[0]
        if ref is not None or not any(
            path == u or (u.endswith("*") and path.startswith(u[:-1]))
            for u in rule["nonResourceURLs"]
        ):
            return False
    return True


def _field(ev: dict[str, Any], path: str) -> str | None:
    node: Any = ev
    for part in path.lstrip(".").split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return None if isinstance(node, (dict, list)) else str(node)


def _test_holds(test: list[dict[str, str]], ev: dict[str, Any]) -> bool:
    for condition in test:
        value = _field(ev, condition["field"])
        if value is None:
            return False  # a condition on a missing field is false
        if "matches" in condition and not re.search(condition["matches"], value):
            return False
        if "notMatches" in condition and re.search(condition["notMatches"], value):
            return False
    return True


def forwarded(spec: dict[str, Any], ev: dict[str, Any]) -> bool:
    """Whether the audit pipeline of ``spec`` forwards ``ev``."""
    [pipeline] = [p for p in spec["pipelines"] if p["inputRefs"] == ["audit"]]
    filters = {f["name"]: f for f in spec["filters"]}
    for name in pipeline.get("filterRefs", []):
        f = filters[name]
        if f["type"] == "kubeAPIAudit":
            audit = f["kubeAPIAudit"]
            if ev["stage"] in audit.get("omitStages", []):
                return False
            omitted = audit.get("omitResponseCodes")
            if ev["responseStatus"]["code"] in (DEFAULT_OMITTED if omitted is None else omitted):
                return False
            level = next((r["level"] for r in audit.get("rules", []) if rule_matches(r, ev)),
                         "None")
            if level == "None":
                return False
        elif f["type"] == "drop":
            if any(_test_holds(t["test"], ev) for t in f["drop"]):
                return False
        else:
            raise AssertionError(f"filter type {f['type']} not modelled here")
    return True


# What an investigator needs kept, and the noise that may go.
KEPT = {
    "a person reads a Secret": event(PERSON, "get", resource="secrets", namespace="a", name="db"),
    "a service account reads a Secret": event(SERVICE_ACCOUNT, "get", resource="secrets",
                                              namespace="a", name="db"),
    "a service account lists Secrets": event(SERVICE_ACCOUNT, "list", resource="secrets",
                                             namespace="a"),
    "a service account patches a Role": event(SERVICE_ACCOUNT, "patch", resource="roles",
                                              group="rbac.authorization.k8s.io",
                                              namespace="a", name="edit"),
    "a person deletes a VM": event(PERSON, "delete", resource="virtualmachines",
                                   group="kubevirt.io", namespace="a", name="vm1"),
    "a node updates its status": event(NODE, "patch", resource="nodes", name="worker-1"),
    "a forbidden read": event(SERVICE_ACCOUNT, "get", resource="secrets", namespace="kube-system",
                              name="x", code=403),
    "a forbidden watch": event(SERVICE_ACCOUNT, "watch", resource="secrets", code=403),
    "an unauthenticated health check": event({"username": "system:anonymous"}, "get",
                                             uri="/healthz", code=401),
    "a write refused for a conflict": event(PERSON, "update", resource="configmaps",
                                            namespace="a", name="c", code=409),
    "a person deletes a Namespace": event(PERSON, "delete", resource="namespaces", name="a"),
}
DROPPED = {
    "a controller's watch": event(SERVICE_ACCOUNT, "watch", resource="pods"),
    "a person's watch": event(PERSON, "watch", resource="virtualmachines", group="kubevirt.io"),
    "a health check": event({"username": "system:anonymous"}, "get", uri="/readyz?verbose"),
    "a lease renewal": event(NODE, "update", resource="leases", group="coordination.k8s.io",
                             namespace="kube-node-lease", name="worker-1"),
    "an event written": event(SERVICE_ACCOUNT, "create", resource="events", namespace="a"),
}
