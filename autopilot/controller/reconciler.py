"""The asset-level reconciler: from a queue key to a pass over the asset's objects.

For an asset key: read the HCO context from the cache
(:mod:`autopilot.controller.hco_context`), read the render inputs
(:mod:`autopilot.controller.cache_inputs`), plan the asset (the same code path as
``autopilot render`` and ``/debug/render``), drop what ``disabled-resources``
excludes and what is not installed, hand each remaining object to the object
pass, and keep what it handed over as the asset's intent
(:mod:`autopilot.controller.intents`). For an object key (a watch event of one
managed object): when no asset pass is due and the intent's inputs still hold,
a quick object pass over that object of the intent, with no render; otherwise
the asset pass. Passes over one asset never overlap. For the tombstone key: run
the sweep. :mod:`autopilot.controller.wiring` builds the parts it drives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from autopilot.controller import keys
from autopilot.controller.cache_inputs import CacheInputs
from autopilot.controller.hco_context import ContextReports, HcoContext, read_context
from autopilot.controller.intents import Identity, Intent, Intents, identity_of, stamp_of
from autopilot.controller.object_pass import ObjectPass, Outcome, Result
from autopilot.controller.ports import ClusterView
from autopilot.controller.progress import Gvk, Progress
from autopilot.controller.state import StateBook
from autopilot.controller.sweeper import TombstoneSweeper
from autopilot.engine import overrides
from autopilot.golden import plan as gplan
from autopilot.golden.catalog import Asset, GoldenState
from autopilot.golden.inputs import RenderInputs
from autopilot.kube.resources import ObjectRef, ResourceInfo, split_api_version

log = structlog.get_logger("autopilot.reconcile")


class AssetFailed(Exception):
    """An asset pass ended with at least one failed object; the queue backs off."""


@dataclass
class _Tally:
    """What the object passes of one asset pass came to."""

    rendered: list[ObjectRef] = field(default_factory=list)
    handed: dict[Identity, tuple[dict[str, Any], ResourceInfo]] = field(default_factory=dict)
    missing: set[Gvk] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    retry: float | None = None

    def count(self, obj: dict[str, Any], result: Result) -> None:
        """One object pass's outcome."""
        if result.outcome is Outcome.FAILED:
            self.failures.append(f"{ObjectRef.of(obj)}: {result.error}")
        elif result.outcome is Outcome.THROTTLED and result.retry_after is not None:
            self.retry = min(self.retry or result.retry_after, result.retry_after)


@dataclass
class Reconciler:
    """Reconciles one queue key at a time (safe to call from several workers)."""

    golden: GoldenState
    view: ClusterView
    inputs: CacheInputs
    book: StateBook
    objects: ObjectPass
    sweeper: TombstoneSweeper
    progress: Progress
    reports: ContextReports
    # Whether a key waits in the work queue (an asset pass due covers its objects).
    pending: Callable[[str], bool] = lambda key: False
    intents: Intents = field(default_factory=Intents)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _idle: str | None = None

    async def reconcile(self, key: str) -> float | None:
        """Reconcile one key; return a delay to look again (throttling) or None.

        Raises :class:`AssetFailed` when an object failed, so the queue retries
        with per-item backoff.
        """
        hco = self.view.hco()
        context = read_context(hco, golden=self.golden)
        if context is None:
            self._go_idle("no-hco" if hco is None else "disabled")
            return None
        self._idle = None
        self.reports.report(context)
        if key == keys.TOMBSTONES:
            await self.sweeper.sweep()
            return None
        one = keys.object_of(key)
        name = keys.asset_of(key) if one is None else one.asset
        if name is None or not self.golden.has_asset(name):
            return None
        if one is not None and self.pending(keys.asset_key(name)):
            return None  # the asset pass due renders it again and covers this object
        async with self._locks.setdefault(name, asyncio.Lock()):
            if one is not None:
                intent = self.intents.get(name, stamp_of(self.view, context.hco))
                target = intent.objects.get(one.identity) if intent is not None else None
                if target is not None:
                    return await self._quick_pass(name, *target)
            try:
                return await self._asset_pass(self.golden.asset(name), context)
            finally:
                log.debug("asset pass done", asset=name)

    async def _quick_pass(self, asset: str, desired: dict[str, Any],
                          res: ResourceInfo) -> float | None:
        """One object of the asset's intent, judged against its baseline first."""
        result = await self.objects.run(asset=asset, desired=desired, res=res, quick=True)
        log.debug("object pass done", asset=asset, kind=desired.get("kind"),
                  name=(desired.get("metadata") or {}).get("name"), outcome=result.outcome.value)
        if result.outcome is Outcome.FAILED:
            self.intents.drop(asset)  # the retry renders: when in doubt, the full pass
            raise AssetFailed(f"{ObjectRef.of(desired)}: {result.error}")
        return result.retry_after if result.outcome is Outcome.THROTTLED else None

    def plan(self, asset: Asset, context: HcoContext, inputs: RenderInputs) -> gplan.AssetPlan:
        """Plan one asset (runs in a worker thread: templates may look the cluster up)."""
        return gplan.plan_inputs(self.golden, inputs, assets=[asset],
                                 activation=context.gate)[0]

    def _go_idle(self, why: str) -> None:
        """Idle (no HCO, or not enabled): forget every object and every outcome, once."""
        if self._idle == why:
            return
        self._idle = why
        log.info("autopilot idle", reason="HyperConverged not found" if why == "no-hco"
                 else "autopilot not enabled")
        self.progress.idle()
        for st in self.book.all_objects():
            self.objects.forget_object(st.ref)
        self.sweeper.clear_metrics()

    async def _asset_pass(self, asset: Asset, context: HcoContext) -> float | None:
        # Stamped before reading: a change while rendering makes the intent stale at once.
        stamp = stamp_of(self.view, context.hco)
        # Rendering runs in a thread so that template lookups can make bounded reads
        # through the loop.
        inputs = await self.inputs.read(context.hco, asset=asset.name)
        plan = await asyncio.to_thread(self.plan, asset, context, inputs)
        if plan.error:
            self.intents.drop(asset.name)
            self.progress.render_failed(context.hco, asset.name, plan.error)
            return None
        self.progress.rendered(asset.name)
        tally = _Tally()
        if plan.included:
            for obj in plan.objects:
                await self._object_pass(asset, obj, context, tally)
        for gone in self.book.set_asset_objects(asset.name, tally.rendered):
            self.objects.forget_object(gone)
        self.progress.set_missing(context.hco, asset.name, tally.missing)
        ok = not tally.failures and tally.retry is None
        if tally.failures:
            self.intents.drop(asset.name)
        else:
            self.intents.put(asset.name, Intent(stamp=stamp, objects=tally.handed))
        self.progress.outcome(context.hco, asset.name, ok=ok)
        if ok:
            await self.sweeper.after_asset(asset.name)
        if tally.failures:
            raise AssetFailed("; ".join(tally.failures))
        return tally.retry

    async def _object_pass(
        self, asset: Asset, obj: dict[str, Any], context: HcoContext, tally: _Tally
    ) -> None:
        res = _admit(self.view, self.progress, asset, obj, context, tally)
        if res is not None:
            tally.handed[identity_of(obj)] = (obj, res)
            tally.count(obj, await self.objects.run(asset=asset.name, desired=obj, res=res))


def _admit(view: ClusterView, progress: Progress, asset: Asset, obj: dict[str, Any],
           context: HcoContext, tally: _Tally) -> ResourceInfo | None:
    """The resource to apply ``obj`` to; None when it waits for its kind or is excluded."""
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    res = view.resource_for(api_version, kind)
    if asset.gate_crd and not view.crd_exists(asset.gate_crd):
        tally.missing.add(progress.gate_gvk(asset.gate_crd))
        return None
    if res is None:
        group, version = split_api_version(api_version)
        tally.missing.add((group, version, kind))
        return None
    if overrides.is_excluded(obj, context.exclusions):
        return None
    tally.rendered.append(ObjectRef.of(obj))
    return res
