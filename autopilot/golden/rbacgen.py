"""Least-privilege ClusterRole derived from the golden state.

The kinds (and, for sensitive kinds, the names) the golden state writes come from
:func:`autopilot.golden.kinds.rendered_objects`. Tombstones add ``delete`` scoped
to their names. The controller's own needs are a fixed list. Leader election is not
in it: the Lease is granted in the controller's own namespace only, by the Role in
``manifests/rbac/leader-election-role.yaml``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import plural_of, rendered_objects
from autopilot.golden.templating import to_yaml
from autopilot.kube.resources import split_api_version

ROLE_NAME = "virt-platform-autopilot"
RBAC_GROUP = "rbac.authorization.k8s.io"
# Managed kinds are written with server-side apply only (PATCH, which also creates;
# the controller never PUTs them). `update` is granted anyway: the runbook the contract
# holds us to verifies the service account with
# `kubectl auth can-i update <resource> --as=<our service account>`, which must answer
# "yes" on a healthy install instead of sending the SRE after a non-problem. It adds no
# power: `patch` on the same objects can already set every field `update` can.
WRITE_VERBS = ("get", "list", "watch", "create", "update", "patch")
VERB_ORDER = ("get", "list", "watch", "create", "update", "patch", "delete", "bind", "escalate")
# Writes to these kinds are limited to the names the golden state renders.
NAME_SCOPED_KINDS = frozenset(
    {"ClusterRole", "ClusterRoleBinding", "SecurityContextConstraints", "Namespace"}
)
# (group, resource, verbs): what the controller itself reads and writes.
CONTROLLER_NEEDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # list: `autopilot explain` shows an object's recent events from inside the pod.
    ("events.k8s.io", "events", ("create", "patch", "list")),
    ("", "events", ("create", "patch")),
    ("", "nodes", ("get", "list", "watch")),
    ("", "namespaces", ("get", "list", "watch")),
    ("", "configmaps", ("get",)),
    ("apiextensions.k8s.io", "customresourcedefinitions", ("get", "list", "watch")),
    ("hco.kubevirt.io", "hyperconvergeds", ("get", "list", "watch", "patch")),
    ("config.openshift.io", "infrastructures", ("get", "list", "watch")),
    ("config.openshift.io", "schedulers", ("get", "list", "watch")),
    ("cdi.kubevirt.io", "storageprofiles", ("get", "list")),
    # Template lookups: the LokiStack's storage class (LVMS's, vSphere's, the default).
    ("storage.k8s.io", "storageclasses", ("get", "list")),
    ("monitoring.coreos.com", "prometheusrules", ("get", "list")),
    # Template lookup: the FenceAgentsRemediationTemplate the NodeHealthCheck names, by name.
    ("fence-agents-remediation.medik8s.io", "fenceagentsremediationtemplates", ("get",)),
)


@dataclass(frozen=True, slots=True)
class _Key:
    group: str
    resource: str
    names: tuple[str, ...] = ()


def _add(rules: dict[_Key, set[str]], key: _Key, verbs: Iterable[str]) -> None:
    rules.setdefault(key, set()).update(verbs)


def cluster_role(golden: GoldenState, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The ClusterRole for the golden state whose rendered ``objects`` are given."""
    plurals = dict(golden.plurals)
    rules: dict[_Key, set[str]] = {}
    scoped_names: dict[tuple[str, str], set[str]] = defaultdict(set)
    # RBAC escalation checks: binding a role we do not hold needs `bind` on that role, and
    # writing a role granting more than we hold needs `escalate`; both pinned to names.
    special: dict[tuple[str, str], set[str]] = defaultdict(set)
    for obj in objects:
        group, _ = split_api_version(str(obj["apiVersion"]))
        kind = str(obj["kind"])
        name = str(obj["metadata"]["name"])
        resource = plural_of(kind, plurals)
        if kind in NAME_SCOPED_KINDS:
            scoped_names[(group, resource)].add(name)
        else:
            _add(rules, _Key(group, resource), WRITE_VERBS)
        if group == RBAC_GROUP and kind in ("ClusterRole", "Role"):
            special[(resource, "escalate")].add(name)
        role_ref = obj.get("roleRef")
        if group == RBAC_GROUP and isinstance(role_ref, dict):
            ref_kind = str(role_ref.get("kind"))
            if ref_kind in ("ClusterRole", "Role"):
                special[(plural_of(ref_kind), "bind")].add(str(role_ref.get("name")))
    for (group, resource), names in scoped_names.items():
        _add(rules, _Key(group, resource), ("list", "watch"))  # informers list by label
        _add(rules, _Key(group, resource, tuple(sorted(names))),
             ("get", "create", "update", "patch"))
    for (resource, verb), names in special.items():
        _add(rules, _Key(RBAC_GROUP, resource, tuple(sorted(names))), (verb,))
    tombstoned: dict[tuple[str, str], set[str]] = defaultdict(set)
    for tomb in golden.tombstones:
        group, _ = split_api_version(tomb.api_version)
        tombstoned[(group, plural_of(tomb.kind, plurals))].add(tomb.name)
    for (group, resource), names in tombstoned.items():
        _add(rules, _Key(group, resource, tuple(sorted(names))), ("get", "delete"))
    for group, resource, verbs in CONTROLLER_NEEDS:
        _add(rules, _Key(group, resource), verbs)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": ROLE_NAME, "labels": {"app": ROLE_NAME}},
        "rules": _merge(rules),
    }


def _merge(rules: dict[_Key, set[str]]) -> list[dict[str, Any]]:
    """One rule per (API group, verbs, names) with the resources sorted."""
    grouped: dict[tuple[str, tuple[str, ...], tuple[str, ...]], set[str]] = defaultdict(set)
    for key, verb_set in rules.items():
        ordered = tuple(v for v in VERB_ORDER if v in verb_set)
        grouped[(key.group, ordered, key.names)].add(key.resource)
    out: list[dict[str, Any]] = []
    for (group, verbs, names), resources in sorted(
        grouped.items(), key=lambda item: (item[0][0], item[0][2], sorted(item[1]), item[0][1])
    ):
        rule: dict[str, Any] = {
            "apiGroups": [group],
            "resources": sorted(resources),
            "verbs": list(verbs),
        }
        if names:
            rule["resourceNames"] = list(names)
        out.append(rule)
    return out


HEADER = (
    "# Generated by `autopilot rbac` from golden_state/ (assets and tombstones) plus what\n"
    "# the controller itself needs. Do not edit by hand; CI runs `autopilot rbac --check`.\n"
)


def cluster_role_yaml(golden: GoldenState) -> tuple[str, list[str]]:
    """The content of ``manifests/rbac/clusterrole.yaml``, and assets that rendered nothing."""
    found, silent = rendered_objects(golden)
    role = cluster_role(golden, [obj for _asset, obj in found])
    return HEADER + to_yaml(role) + "\n", silent
