"""Which objects, and so which kinds, the golden state can render.

Every asset is rendered with every condition forced true, under a few topologies
and with pessimistic and optimistic lookups. The least-privilege ClusterRole
(:mod:`autopilot.golden.rbacgen`), the controller's managed-kind watches and the
demo's CRDs all start from :func:`rendered_objects`; :func:`plural_of` names a
kind's REST resource.
"""

from __future__ import annotations

import copy
from typing import Any

from autopilot.golden.catalog import HARDWARE_DETECTORS, Asset, GoldenState
from autopilot.golden.context import RenderContext
from autopilot.golden.gate import AUTOPILOT_ANNOTATION
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.names_read import OTHER_TEMPLATES, names_read
from autopilot.golden.render import LOOKUP_HELPERS, RenderError, render_asset
from autopilot.kube.wellknown import HCO, HCO_NAME

BUILTIN_PLURALS = {
    "Endpoints": "endpoints",
    "SecurityContextConstraints": "securitycontextconstraints",
    "PodSecurityPolicy": "podsecuritypolicies",
    "NetworkPolicy": "networkpolicies",
    "Ingress": "ingresses",
}
_PLACEHOLDER_IMAGE = "registry.invalid/placeholder:rbac"
# The names the variants of rendered_objects differ in (the topology, the lookups);
# a template mentioning none of them (nor another template) renders alike in all.
_VARYING = frozenset({"topology", *LOOKUP_HELPERS}) | OTHER_TEMPLATES


class UnrenderableAsset(Exception):
    """An asset fails to render in every variant; one line (the first failure)."""


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
        "apiVersion": HCO.api_version,
        "kind": HCO.kind,
        "metadata": {"name": HCO_NAME, "namespace": namespace,
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


class OptimisticLookups(OfflineLookups):
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
    golden: GoldenState, *, namespace: str = "openshift-cnv",
) -> tuple[list[tuple[Asset, dict[str, Any]]], list[str]]:
    """Every object any variant renders (the controller in ``namespace``), and the
    assets that rendered nothing at all.

    An asset failing in every variant is an error. One whose template mentions none of
    the names the variants differ in is rendered in the first only.
    """
    variants = [
        (ctx, lookups)
        for ctx in all_on_contexts(golden, namespace)
        for lookups in (OfflineLookups(), OptimisticLookups())
    ]
    found: list[tuple[Asset, dict[str, Any]]] = []
    silent: list[str] = []
    for asset in golden.assets:
        errors: list[str] = []
        before = len(found)
        chosen = variants if _varies(golden, asset) else variants[:1]
        for ctx, lookups in chosen:
            try:
                found.extend(
                    (asset, obj) for obj in render_asset(golden, asset, ctx, lookups=lookups)
                )
            except RenderError as exc:
                errors.append(str(exc))
        if len(errors) == len(chosen):
            raise UnrenderableAsset(errors[0])
        if len(found) == before:
            silent.append(asset.name)
    return found, silent


def _varies(golden: GoldenState, asset: Asset) -> bool:
    """Whether ``asset`` may render differently in the variants of :func:`rendered_objects`."""
    names = names_read(golden.environment(), asset.path)
    return names is None or not names.isdisjoint(_VARYING)


def one_namespace_of(
    golden: GoldenState, objects: list[tuple[Asset, dict[str, Any]]]
) -> dict[tuple[str, str], str]:
    """The namespace of each kind declared ``in_one_namespace``, by (group, kind), from
    ``objects`` (:func:`rendered_objects`); :class:`UnrenderableAsset` names a declared
    kind rendered into no namespace or several."""
    seen: dict[tuple[str, str], set[str]] = {kind: set() for kind in golden.in_one_namespace}
    for _, obj in objects:
        group_kind = (str(obj.get("apiVersion", "")).rpartition("/")[0], str(obj.get("kind", "")))
        if group_kind in seen:
            seen[group_kind].add(str((obj.get("metadata") or {}).get("namespace") or ""))
    out: dict[tuple[str, str], str] = {}
    for (group, kind), namespaces in sorted(seen.items()):
        if len(namespaces) != 1 or "" in namespaces:
            where = ", ".join(sorted(n or "(cluster scope)" for n in namespaces)) or "nowhere"
            name = f"{kind}.{group}" if group else kind
            raise UnrenderableAsset(
                f"{name} is declared in_one_namespace but is rendered into {where}")
        out[(group, kind)] = namespaces.pop()
    return out


def rendered_keys(
    objects: list[tuple[Asset, dict[str, Any]]],
) -> dict[tuple[str, str], frozenset[tuple[str, str]]]:
    """The (namespace, name) of every object in ``objects`` (:func:`rendered_objects`),
    by (group, kind); the namespace is ``""`` for a cluster-scoped object."""
    keys: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for _, obj in objects:
        group_kind = (str(obj.get("apiVersion", "")).rpartition("/")[0], str(obj.get("kind", "")))
        meta = obj.get("metadata") or {}
        keys.setdefault(group_kind, set()).add(
            (str(meta.get("namespace") or ""), str(meta.get("name") or "")))
    return {kind: frozenset(found) for kind, found in keys.items()}
