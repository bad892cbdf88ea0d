"""Least-privilege ClusterRole derived from the golden state.

Every asset is rendered with every condition forced true, under a few topologies,
to learn the kinds (and, for sensitive kinds, the names) it writes. Tombstones add
``delete`` scoped to their names. The controller's own needs are a fixed list.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from autopilot.golden.catalog import HARDWARE_DETECTORS, Asset, GoldenState
from autopilot.golden.context import RenderContext
from autopilot.golden.gate import AUTOPILOT_ANNOTATION
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.render import RenderError, render_asset
from autopilot.golden.templating import to_yaml
from autopilot.kube.resources import split_api_version

ROLE_NAME = "virt-platform-autopilot"
RBAC_GROUP = "rbac.authorization.k8s.io"
# Managed kinds are written with server-side apply (PATCH; it also creates). `update`
# grants nothing patch does not, and makes the runbook's
# `kubectl auth can-i update <resource> --as=<our service account>` answer "yes" on a
# healthy install instead of sending the SRE after a non-problem.
WRITE_VERBS = ("get", "list", "watch", "create", "update", "patch")
VERB_ORDER = ("get", "list", "watch", "create", "update", "patch", "delete", "bind", "escalate")
# Writes to these kinds are limited to the names the golden state renders.
NAME_SCOPED_KINDS = frozenset(
    {"ClusterRole", "ClusterRoleBinding", "SecurityContextConstraints", "Namespace"}
)
BUILTIN_PLURALS = {
    "Endpoints": "endpoints",
    "SecurityContextConstraints": "securitycontextconstraints",
    "PodSecurityPolicy": "podsecuritypolicies",
    "NetworkPolicy": "networkpolicies",
    "Ingress": "ingresses",
}
# (group, resource, verbs): what the controller itself reads and writes.
CONTROLLER_NEEDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("coordination.k8s.io", "leases", ("get", "create", "update")),
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
)
_PLACEHOLDER_IMAGE = "registry.invalid/placeholder:rbac"


class RbacError(Exception):
    """The ClusterRole cannot be derived; one line."""


def plural_of(kind: str, overrides: dict[str, str] | None = None) -> str:
    """Resource name of a kind: catalogue override, built-in table, then English rules."""
    if overrides and kind in overrides:
        return overrides[kind]
    if kind in BUILTIN_PLURALS:
        return BUILTIN_PLURALS[kind]
    lower = kind.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lower[:-1] + "ies"
    return lower + "s"


def _all_on_hco(golden: GoldenState, namespace: str) -> dict[str, Any]:
    annotations = {AUTOPILOT_ANNOTATION: "true"}
    gates = []
    for asset in golden.assets:
        for cond in asset.conditions:
            if cond.type == "annotation":
                annotations[cond.key] = cond.value or "true"
            elif cond.type == "feature-gate":
                gates.append({"name": cond.value, "state": "Enabled"})
    return {
        "apiVersion": "hco.kubevirt.io/v1",
        "kind": "HyperConverged",
        "metadata": {"name": "kubevirt-hyperconverged", "namespace": namespace,
                     "annotations": annotations},
        "spec": {"featureGates": gates},
    }


def _topologies() -> list[dict[str, Any]]:
    base = {
        "controlPlaneTopology": "HighlyAvailable",
        "infrastructureTopology": "HighlyAvailable",
        "isHCP": False,
        "platform": "BareMetal",
        "isAWS": False,
        "hasSchedulableMasters": True,
        "isCompact": False,
        "masterCount": 3,
        "workerCount": 3,
        "nodeCount": 6,
    }
    aws = {**base, "platform": "AWS", "isAWS": True, "hasSchedulableMasters": False}
    compact = {**base, "isCompact": True, "workerCount": 3, "nodeCount": 3}
    hcp = {**base, "controlPlaneTopology": "External", "isHCP": True, "masterCount": 0,
           "hasSchedulableMasters": False, "nodeCount": 3}
    return [base, aws, compact, hcp]


def all_on_contexts(golden: GoldenState, namespace: str = "openshift-cnv") -> list[RenderContext]:
    """Contexts in which every catalogue condition holds, one per topology variant."""
    images = {
        cond.key: _PLACEHOLDER_IMAGE
        for asset in golden.assets
        for cond in asset.conditions
        if cond.type == "image"
    }
    hco = _all_on_hco(golden, namespace)
    return [
        RenderContext(
            hco=copy.deepcopy(hco),
            namespace=namespace,
            hardware=dict.fromkeys(HARDWARE_DETECTORS, True),
            topology=topology,
            images=images,
            version=golden.version,
        )
        for topology in _topologies()
    ]


class _OptimisticLookups(OfflineLookups):
    """A cluster where every looked-up thing exists (storage, rules, objects)."""

    def object_exists(self, api_version: str, kind: str, name: str, namespace: str = "") -> bool:
        return True

    def recording_rule_exists(self, record_name: str) -> bool:
        return True

    def rwx_storage_class(self) -> str:
        return "rbac-placeholder-rwx"

    def default_storage_class(self) -> str:
        return "rbac-placeholder-default"


def rendered_objects(
    golden: GoldenState,
) -> tuple[list[tuple[Asset, dict[str, Any]]], list[str]]:
    """Every object any variant renders, and the assets that rendered nothing at all.

    An asset failing in every variant is an error.
    """
    variants = [
        (ctx, lookups)
        for ctx in all_on_contexts(golden)
        for lookups in (OfflineLookups(), _OptimisticLookups())
    ]
    found: list[tuple[Asset, dict[str, Any]]] = []
    silent: list[str] = []
    for asset in golden.assets:
        errors: list[str] = []
        before = len(found)
        for ctx, lookups in variants:
            try:
                found.extend(
                    (asset, obj) for obj in render_asset(golden, asset, ctx, lookups=lookups)
                )
            except RenderError as exc:
                errors.append(str(exc))
        if len(errors) == len(variants):
            raise RbacError(errors[0])
        if len(found) == before:
            silent.append(asset.name)
    return found, silent


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
