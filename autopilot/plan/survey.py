"""``autopilot plan``'s computation: every change the controller would make, and its cost.

Renders the golden state for the HCO exactly as ``autopilot render --kubeconfig``
does (:func:`autopilot.golden.live.read_inputs`, :func:`autopilot.golden.plan.plan_inputs`),
drops what the allowlist and ``disabled-resources`` exclude, asks the API server for a
dry run of each remaining object (:mod:`autopilot.plan.changes`), adds the deletes the
tombstones would make, and for every MachineConfig and KubeletConfig that would change,
the pools it reaches and what their nodes do (:mod:`autopilot.plan.blast`). Reads and
dry runs only: nothing is written.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

from autopilot import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.engine import overrides
from autopilot.engine.renames import follow_renames
from autopilot.golden import plan as gplan
from autopilot.golden.catalog import GoldenState
from autopilot.golden.gate import activation_for
from autopilot.golden.live import read_live_inputs
from autopilot.golden.tombstones import Tombstone
from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.discovery import RestMapper
from autopilot.kube.resources import ObjectRef
from autopilot.kube.wellknown import CRDS
from autopilot.plan import changes as ch
from autopilot.plan.blast import BlastRadius, blast_radius

# Assets left out by the allowlist are listed; those whose conditions do not hold
# are not (they are not meant for this cluster, as in ``render --output status``).
_ALLOWLIST_REASONS = (gplan.REASON_NOT_ALLOWED, gplan.REASON_NOT_SELECTED)


@dataclass
class Plan:
    """Every verdict, in apply order, then the tombstones' deletes, and the blast radius."""

    changes: list[ch.Change] = field(default_factory=list)
    blast: BlastRadius = field(default_factory=BlastRadius)
    warnings: list[str] = field(default_factory=list)
    enabled: bool = True  # whether the (previewed) HCO turns the autopilot on

    def count(self, action: str) -> int:
        """How many objects end in ``action``."""
        return sum(1 for c in self.changes if c.action == action and c.kind)

    @property
    def changes_anything(self) -> bool:
        """Whether applying would create, update or delete anything."""
        return any(c.action in ch.CHANGES for c in self.changes)


def preview_enabled(hco: dict[str, Any]) -> dict[str, Any]:
    """The HCO as it would be with ``platform.kubevirt.io/autopilot=true`` (a copy).

    An allowlist already set is kept: it is what enabling would apply.
    """
    out = copy.deepcopy(hco)
    annotations = out.setdefault("metadata", {}).setdefault("annotations", {}) or {}
    out["metadata"]["annotations"] = annotations
    current = str(annotations.get(overrides.AUTOPILOT, "")).strip().lower()
    if current in ("", "false"):
        annotations[overrides.AUTOPILOT] = "true"
    return out


async def survey(
    client: KubeClient, *, golden: GoldenState, hco: dict[str, Any], namespace: str,
    asset: str | None = None,
) -> Plan:
    """The plan for ``hco`` (as given: pass :func:`preview_enabled`'s copy to preview)."""
    mapper, inputs = await read_live_inputs(client, hco=hco, namespace=namespace)
    gate = activation_for(hco, golden)
    plan = Plan(enabled=not gate.idle)
    if gate.idle:
        return plan
    if gate.unknown:
        plan.warnings.append(f"unknown assets/groups in {overrides.AUTOPILOT}: "
                             f"{gate.unknown_note()}")
    exclusions = _exclusions(hco, golden, plan.warnings)
    assets = [golden.asset(asset)] if asset else None
    plans = await asyncio.to_thread(gplan.plan_inputs, golden, inputs, assets=assets,
                                    activation=gate)
    rendered: dict[ObjectRef, str] = {}  # what the controller would manage, by asset
    for one in plans:
        plan.changes += await _asset_changes(client, mapper, one, exclusions, rendered)
    if asset is None:
        plan.changes += await _tombstones(client, mapper, golden, rendered)
    plan.blast = await blast_radius(client, mapper, plan.changes)
    return plan


def _exclusions(hco: dict[str, Any], golden: GoldenState,
                warnings: list[str]) -> list[overrides.Exclusion]:
    text = ((hco.get("metadata") or {}).get("annotations") or {}).get(
        overrides.DISABLED_RESOURCES)
    if not text:
        return []
    try:
        return follow_renames(overrides.parse_disabled_resources(str(text)), golden.tombstones)
    except overrides.ExclusionError as exc:  # fail open, like the controller
        warnings.append(f"{overrides.DISABLED_RESOURCES} ignored: {' '.join(str(exc).split())}")
        return []


async def _asset_changes(
    client: KubeClient, mapper: RestMapper, one: gplan.AssetPlan,
    exclusions: list[overrides.Exclusion], rendered: dict[ObjectRef, str],
) -> list[ch.Change]:
    name = one.asset.name
    if one.error:
        return [ch.Change(action=ch.WOULD_FAIL, asset=name, note=f"render: {one.error}")]
    if not one.included:
        if one.reason in _ALLOWLIST_REASONS:
            return [ch.Change(action=ch.EXCLUDED, asset=name, note=one.reason)]
        return []
    if one.asset.gate_crd and not await _crd_exists(client, one.asset.gate_crd):
        return [ch.Change(action=ch.WAITING, asset=name,
                          note=f"CRD {one.asset.gate_crd} is not installed; applied once it is")]
    out: list[ch.Change] = []
    for obj in one.objects:
        res = mapper.lookup(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if overrides.is_excluded(obj, exclusions):
            out.append(ch.Change.of(ch.EXCLUDED, asset=name, obj=obj,
                                    note=f"by {overrides.DISABLED_RESOURCES}"))
        elif res is None:
            out.append(ch.Change.of(ch.WAITING, asset=name, obj=obj,
                                    note=f"{obj.get('kind')} ({obj.get('apiVersion')}) is not "
                                         "served (CRD missing); applied once it is"))
        else:
            rendered[ObjectRef.of(obj)] = name
            out.append(await ch.object_change(client, asset=name, desired=obj, res=res))
    return out


async def _crd_exists(client: KubeClient, name: str) -> bool:
    try:
        return await client.get(CRDS, name) is not None
    except ApiError:
        return False


def _replaced_here(tomb: Tombstone, rendered: dict[ObjectRef, str]) -> bool:
    """Whether the tombstone's replacement (``after``) would be managed on this cluster;
    when it would not, the sweep keeps the old object on purpose."""
    after = tomb.after
    return after is None or any(
        asset == after.asset and after.matches(kind=ref.kind, name=ref.name,
                                               namespace=ref.namespace)
        for ref, asset in rendered.items())


async def _tombstones(client: KubeClient, mapper: RestMapper, golden: GoldenState,
                      rendered: dict[ObjectRef, str]) -> list[ch.Change]:
    out: list[ch.Change] = []
    for tomb in golden.tombstones:
        res = mapper.lookup(tomb.api_version, tomb.kind)
        if res is None or not _replaced_here(tomb, rendered):
            continue  # kind not installed, or kept until its replacement is managed
        try:
            live = await client.get(res, tomb.name, namespace=tomb.namespace or None)
        except ApiError as exc:
            out.append(ch.Change(action=ch.WOULD_FAIL, asset="tombstones",
                                 api_version=tomb.api_version, kind=tomb.kind, name=tomb.name,
                                 namespace=tomb.namespace, note=f"read: {exc.message}"))
            continue
        ref = ObjectRef(tomb.api_version, tomb.kind, tomb.name, tomb.namespace)
        change = ch.tombstone_change(
            live, api_version=tomb.api_version, kind=tomb.kind, name=tomb.name,
            namespace=tomb.namespace, managed_by=(MANAGED_BY_LABEL, MANAGED_BY_VALUE),
            rendered=ref in rendered,
            after=tomb.after.describe() if tomb.after is not None else "")
        if change is not None:
            out.append(change)
    return out
