"""Least-privilege grants derived from the golden state.

The objects the golden state writes come from
:func:`autopilot.golden.kinds.rendered_objects`. Every write is pinned to the names
rendered: the controller creates only through server-side apply, and the API server
authorises an apply that creates with ``create`` on that very name. Namespaced objects
are written through a Role in their own namespace, cluster-scoped ones through the
ClusterRole. Tombstones add ``delete`` on their names. Reads (get, list and watch; the
informers list cluster-wide) stay unrestricted by name.

No ``escalate``: the controller holds the rules of every Role and ClusterRole it writes,
which is what the API server's escalation check asks of a writer. ``bind`` only on the
exact roles the golden state binds: those it writes (whose rules it holds, so ``bind``
adds nothing; it spares an order between a binding and its role) and another
operator's roles the logging collector is bound to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import plural_of
from autopilot.kube.resources import split_api_version

RBAC_GROUP = "rbac.authorization.k8s.io"
READ_VERBS = ("get", "list", "watch")
# `update` beside `patch`: the runbooks verify the account with `kubectl auth can-i
# update <kind>/<name>`, which must answer "yes" on a healthy install. It adds no
# power: `patch` on the same names can set every field `update` can.
WRITE_VERBS = ("create", "update", "patch")
VERB_ORDER = ("get", "list", "watch", "create", "update", "patch", "delete", "use", "bind")
ROLE_KINDS = ("ClusterRole", "Role")
# (group, resource, verbs, names): what the controller itself reads and writes beyond the
# golden state's objects. Events are created with POST (a name cannot limit it) in the
# namespace of the object they are about, any namespace the golden state writes to.
CONTROLLER_NEEDS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    # list: `autopilot explain` shows an object's recent events from inside the pod.
    ("events.k8s.io", "events", ("create", "patch", "list"), ()),
    ("", "events", ("create", "patch"), ()),
    ("", "nodes", READ_VERBS, ()),
    ("", "namespaces", READ_VERBS, ()),
    # Template lookups watch the ConfigMaps they read, each by name (configmap_value; a
    # field-selected watch is authorised as list and watch of the resource); no Secret is
    # ever read.
    ("", "configmaps", READ_VERBS, ()),
    ("apiextensions.k8s.io", "customresourcedefinitions", READ_VERBS, ()),
    ("hco.kubevirt.io", "hyperconvergeds", READ_VERBS, ()),
    ("config.openshift.io", "infrastructures", READ_VERBS, ()),
    ("config.openshift.io", "schedulers", READ_VERBS, ()),
    # Template lookups answer from watches: the kinds they list are watched whole.
    ("cdi.kubevirt.io", "storageprofiles", READ_VERBS, ()),
    # Template lookups: the LokiStack's storage class (LVMS's, vSphere's, the default).
    ("storage.k8s.io", "storageclasses", READ_VERBS, ()),
    ("monitoring.coreos.com", "prometheusrules", READ_VERBS, ()),
    # Template lookup: the FenceAgentsRemediationTemplate the NodeHealthCheck names, watched
    # by name.
    ("fence-agents-remediation.medik8s.io", "fenceagentsremediationtemplates", READ_VERBS,
     ()),
)


@dataclass(frozen=True, slots=True, order=True)
class GrantKey:
    """One (API group, resource, names) a set of verbs is granted on."""

    group: str
    resource: str
    names: tuple[str, ...] = ()


Grants = dict[GrantKey, set[str]]


@dataclass(slots=True)
class RbacPlan:
    """What the controller is granted: cluster-wide, and per namespace it writes in."""

    cluster: Grants = field(default_factory=dict)
    namespaced: dict[str, Grants] = field(default_factory=lambda: defaultdict(dict))
    # Namespaces the golden state itself creates: the install ships them, so the Role
    # granting writes in them can exist before the controller first runs.
    created_namespaces: set[str] = field(default_factory=set)

    def scope(self, namespace: str) -> Grants:
        """The grants of one namespace, or the cluster-wide ones for ``""``."""
        return self.namespaced[namespace] if namespace else self.cluster


def _add(grants: Grants, key: GrantKey, verbs: Iterable[str]) -> None:
    grants.setdefault(key, set()).update(verbs)


def _hold(grants: Grants, rules: Any) -> None:
    """Grant the rules of a role the golden state writes, so the controller holds them."""
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, dict):
            continue
        names = tuple(sorted(str(n) for n in rule.get("resourceNames") or []))
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                _add(grants, GrantKey(str(group), str(resource), names),
                     (str(v) for v in rule.get("verbs") or []))


def _object(plan: RbacPlan, obj: dict[str, Any], plurals: dict[str, str]) -> None:
    group, _ = split_api_version(str(obj["apiVersion"]))
    kind = str(obj["kind"])
    meta = obj["metadata"]
    name, namespace = str(meta["name"]), str(meta.get("namespace") or "")
    resource = plural_of(kind, plurals)
    # Reads stay cluster-wide: the informers list and watch by label across namespaces, and
    # a read of an object in a namespace not yet there must be a 404 (a quiet skip), not
    # a 403. `get` shows nothing `list` does not.
    _add(plan.cluster, GrantKey(group, resource), READ_VERBS)
    grants = plan.scope(namespace)
    _add(grants, GrantKey(group, resource, (name,)), WRITE_VERBS)
    if group == "" and kind == "Namespace":
        plan.created_namespaces.add(name)
    if group == RBAC_GROUP and kind in ROLE_KINDS:
        _hold(grants, obj.get("rules"))
    ref = obj.get("roleRef")
    if group == RBAC_GROUP and isinstance(ref, dict) and ref.get("kind") in ROLE_KINDS:
        # `bind` on the exact role: a binding applied before its role exists (another
        # asset, or another operator's role) is not refused for want of rules to compare.
        ref_ns = namespace if ref.get("kind") == "Role" else ""
        _add(plan.scope(ref_ns), GrantKey(RBAC_GROUP, plural_of(str(ref.get("kind"))),
                                          (str(ref.get("name")),)), ("bind",))


def plan_rbac(golden: GoldenState, objects: list[dict[str, Any]]) -> RbacPlan:
    """The grants for the golden state whose rendered ``objects`` are given."""
    plurals = dict(golden.plurals)
    plan = RbacPlan()
    for obj in objects:
        _object(plan, obj, plurals)
    for tomb in golden.tombstones:
        group, _ = split_api_version(tomb.api_version)
        resource = plural_of(tomb.kind, plurals)
        _add(plan.scope(tomb.namespace), GrantKey(group, resource, (tomb.name,)), ("delete",))
        # The sweep watches each tombstoned object by name (a kind with several: the kind,
        # keeping their names only); reads stay cluster-wide.
        _add(plan.cluster, GrantKey(group, resource), READ_VERBS)
    for group, resource, verbs, names in CONTROLLER_NEEDS:
        _add(plan.cluster, GrantKey(group, resource, names), verbs)
    return plan


def ordered_verbs(verbs: Iterable[str]) -> list[str]:
    """Verbs in the usual reading order; any other verb after them, sorted."""
    given = set(verbs)
    return [v for v in VERB_ORDER if v in given] + sorted(given - set(VERB_ORDER))


def merged_rules(grants: Grants) -> list[dict[str, Any]]:
    """One rule per (API group, verbs, names) with the resources sorted.

    Names that share a resource and verbs are merged into one rule too.
    """
    by_verbs: dict[tuple[str, str, tuple[str, ...], bool], set[str]] = defaultdict(set)
    for key, verb_set in grants.items():
        by_verbs[(key.group, key.resource, tuple(ordered_verbs(verb_set)), bool(key.names))
                 ].update(key.names)
    grouped: dict[tuple[str, tuple[str, ...], tuple[str, ...]], set[str]] = defaultdict(set)
    for (group, resource, ordered, _named), name_set in by_verbs.items():
        grouped[(group, ordered, tuple(sorted(name_set)))].add(resource)
    out: list[dict[str, Any]] = []
    for (group, verbs, names), resources in sorted(
        grouped.items(), key=lambda item: (item[0][0], item[0][2], sorted(item[1]), item[0][1])
    ):
        rule: dict[str, Any] = {"apiGroups": [group], "resources": sorted(resources),
                                "verbs": list(verbs)}
        if names:
            rule["resourceNames"] = list(names)
        out.append(rule)
    return out
