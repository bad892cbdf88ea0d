"""The asset-level reconciler: from a queue key to a pass over the asset's objects.

For an asset key: read the HCO from the cache, decide whether the autopilot is
active and which assets it may touch, read the render inputs from the caches
(:mod:`autopilot.controller.inputs`), plan the asset (the same code path as
``autopilot render`` and ``/debug/render``), drop what ``disabled-resources``
excludes and what is not installed, and hand each remaining object to the
object pass. For the tombstone key: run the sweep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from autopilot.controller import keys
from autopilot.controller.edit_war import EditWarGate
from autopilot.controller.inputs import CacheInputs
from autopilot.controller.object_pass import ObjectPass, Outcome
from autopilot.controller.ports import ClusterView, EventSink
from autopilot.controller.replacements import ReplacementCheck
from autopilot.controller.state import StateBook
from autopilot.controller.tombstones import TombstoneSweeper
from autopilot.engine import drift, editwar, overrides
from autopilot.engine.renames import follow_renames
from autopilot.golden import gate as ggate
from autopilot.golden import plan as gplan
from autopilot.golden.catalog import Asset, GoldenState
from autopilot.golden.inputs import RenderInputs
from autopilot.kube.client import KubeClient
from autopilot.kube.resources import ObjectRef, split_api_version
from autopilot.observability.metrics import Metrics

log = structlog.get_logger("autopilot.reconcile")


class AssetFailed(Exception):
    """An asset pass ended with at least one failed object; the queue backs off."""


@dataclass
class Activation:
    """The parsed ``platform.kubevirt.io/autopilot`` gate and exclusions of one HCO state."""

    gate: ggate.Activation
    exclusions: list[overrides.Exclusion] = field(default_factory=list)


class Reconciler:
    """Reconciles one queue key at a time (safe to call from several workers)."""

    def __init__(
        self,
        *,
        golden: GoldenState,
        client: KubeClient,
        view: ClusterView,
        events: EventSink,
        metrics: Metrics,
        inputs: CacheInputs,
        gate_kinds: Mapping[str, tuple[str, str, str]] | None = None,
        edit_war_window: float = editwar.WINDOW_SECONDS,
    ) -> None:
        self.golden = golden
        self.view = view
        self.events = events
        self.metrics = metrics
        # Where renders read the cluster from: the same for a pass and for /debug/render.
        self.inputs = inputs
        # gate CRD name -> (group, version, kind), to report what is really missing.
        self.gate_kinds = dict(gate_kinds or {})
        self.book = StateBook()
        self.verdicts = drift.VerdictCache()
        self.edit_war = EditWarGate(
            client=client, events=events, metrics=metrics,
            detector=editwar.EditWarDetector(window=edit_war_window),
        )
        self.objects = ObjectPass(
            client=client,
            view=view,
            events=events,
            metrics=metrics,
            book=self.book,
            verdicts=self.verdicts,
            edit_war=self.edit_war,
        )
        self._asset_ok: dict[str, bool] = {}
        self.sweeper = TombstoneSweeper(
            tombstones=golden.tombstones, client=client, view=view, events=events, metrics=metrics,
            check=ReplacementCheck(book=self.book, reconciled=self._asset_ok.__contains__),
        )
        self._reported: dict[str, str] = {}
        self._missing: dict[str, set[tuple[str, str, str]]] = {}
        self._forced: set[ObjectRef] = set()
        self._idle_logged: str | None = None
        self._exclusions: list[overrides.Exclusion] = []
        self._all_ok = False

    # -- entry point -------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        """Reconcile one key; return a delay to look again (throttling) or None.

        Raises :class:`AssetFailed` when an object failed, so the queue retries
        with per-item backoff.
        """
        hco = self.view.hco()
        activation = self._activation(hco)
        if activation is None:
            self._go_idle(hco)
            return None
        self._idle_logged = None
        if key == keys.TOMBSTONES:
            await self.sweeper.sweep()
            return None
        name = keys.asset_of(key)
        if name is None or not self.golden.has_asset(name):
            return None
        assert hco is not None
        try:
            return await self._asset_pass(self.golden.asset(name), hco, activation)
        finally:
            log.debug("asset pass done", asset=name)

    def force(self, ref: ObjectRef) -> None:
        """Make the next pass over ``ref`` do a real server-side check."""
        self.verdicts.invalidate(ref)
        self._forced.add(ref)

    def invalidate_all(self) -> None:
        """Drop every cached verdict (HCO force-reconcile)."""
        self.verdicts.clear()

    def pause_removed(self, ref: ObjectRef) -> None:
        """The user removed the pause annotation: fresh bucket and a fresh flip window."""
        self.edit_war.reset(ref)
        self.verdicts.invalidate(ref)

    # -- activation --------------------------------------------------------------------

    def _activation(self, hco: dict[str, Any] | None) -> Activation | None:
        if hco is None:
            return None
        annotations = (hco.get("metadata") or {}).get("annotations") or {}
        gate = ggate.activation_for(hco, self.golden)
        if gate.idle:
            return None
        if gate.unknown and self._report_once("unknown-assets", ",".join(gate.unknown)):
            note = "unknown asset or group name(s) in the allowlist: " + gate.unknown_note()
            log.warning("autopilot allowlist names unknown assets", unknown=list(gate.unknown),
                        suggestions=dict(gate.suggestions))
            self.events.emit(
                hco, type="Warning", reason="InvalidAllowlist", note=note, action="Reconcile"
            )
        exclusions: list[overrides.Exclusion] = []
        text = annotations.get(overrides.DISABLED_RESOURCES)
        if text:
            try:
                # Rules naming an object by its old (renamed) name also cover its successor.
                exclusions = follow_renames(
                    overrides.parse_disabled_resources(text), self.golden.tombstones
                )
            except overrides.ExclusionError as exc:
                if self._report_once("disabled-resources", text):
                    log.warning(
                        "invalid disabled-resources annotation; ignoring it", error=str(exc)
                    )
                    self.events.emit(
                        hco,
                        type="Warning",
                        reason="InvalidDisabledResources",
                        note=f"ignored (no exclusions apply): {exc}",
                        action="Reconcile",
                    )
        self._exclusions = exclusions
        return Activation(gate=gate, exclusions=exclusions)

    def _go_idle(self, hco: dict[str, Any] | None) -> None:
        state = "no-hco" if hco is None else "disabled"
        if self._idle_logged != state:
            self._idle_logged = state
            log.info(
                "autopilot idle",
                reason="HyperConverged not found" if hco is None else "autopilot not enabled",
            )
            for asset_name in list(self._missing):
                self._set_missing(asset_name, set())
            for st in self.book.all_objects():
                self.objects.forget_object(st.ref)
            self.sweeper.clear_metrics()
            self._asset_ok.clear()
            self._all_ok = False

    # -- one asset -----------------------------------------------------------------------

    async def _asset_pass(
        self, asset: Asset, hco: dict[str, Any], activation: Activation
    ) -> float | None:
        # Rendering runs in a thread so that template lookups can make bounded reads
        # through the loop.
        inputs = await self.inputs.read(hco)
        plan = await asyncio.to_thread(self.plan, asset, inputs, activation.gate)
        if plan.error:
            if self._report_once(f"render/{asset.name}", plan.error):
                log.error("render failed", asset=asset.name, error=plan.error)
                self.events.emit(
                    hco, type="Warning", reason="RenderFailed", note=plan.error[:1000],
                    action="Render",
                )
            self._note_outcome(asset.name, ok=False)
            return None
        self._reported.pop(f"render/{asset.name}", None)
        rendered: list[ObjectRef] = []
        missing: set[tuple[str, str, str]] = set()
        failures: list[str] = []
        retry: float | None = None
        if plan.included:
            for obj in plan.objects:
                api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
                res = self.view.resource_for(api_version, kind)
                if asset.gate_crd and not self.view.crd_exists(asset.gate_crd):
                    missing.add(self._gate_gvk(asset.gate_crd))
                    continue
                if res is None:
                    group, version = split_api_version(api_version)
                    missing.add((group, version, kind))
                    continue
                if overrides.is_excluded(obj, activation.exclusions):
                    continue
                ref = ObjectRef.of(obj)
                rendered.append(ref)
                forced = ref in self._forced
                self._forced.discard(ref)
                result = await self.objects.run(
                    asset=asset.name, desired=obj, res=res, forced=forced
                )
                if result.outcome is Outcome.FAILED:
                    failures.append(f"{ref}: {result.error}")
                elif result.outcome is Outcome.THROTTLED and result.retry_after is not None:
                    retry = min(retry or result.retry_after, result.retry_after)
        for gone in self.book.set_asset_objects(asset.name, rendered):
            self.objects.forget_object(gone)
        self._set_missing(asset.name, missing)
        self._note_outcome(asset.name, ok=not failures and retry is None)
        if not failures and retry is None:
            await self.sweeper.after_asset(asset.name)
        if failures:
            raise AssetFailed("; ".join(failures))
        return retry

    def _note_outcome(self, asset_name: str, *, ok: bool) -> None:
        """Tell the HCO once whenever every asset has come into line (ReconcileSucceeded)."""
        self._asset_ok[asset_name] = ok
        everything = len(self._asset_ok) == len(self.golden.assets)
        all_ok = everything and all(self._asset_ok.values())
        if all_ok and not self._all_ok:
            compliant = sum(1 for st in self.book.all_objects() if st.compliance == 1)
            note = f"every asset reconciled; {compliant} managed objects in their Golden State"
            log.info("reconcile succeeded", compliant=compliant)
            hco = self.view.hco()
            if hco is not None:
                self.events.emit(hco, type="Normal", reason="ReconcileSucceeded", note=note,
                                 action="Reconcile")
        self._all_ok = all_ok

    def plan(
        self, asset: Asset, inputs: RenderInputs, gate: ggate.Activation
    ) -> gplan.AssetPlan:
        """Plan one asset (runs in a worker thread: templates may look the cluster up)."""
        return gplan.plan_inputs(self.golden, inputs, assets=[asset], activation=gate)[0]

    def _gate_gvk(self, crd_name: str) -> tuple[str, str, str]:
        if crd_name in self.gate_kinds:
            return self.gate_kinds[crd_name]
        plural, _, group = crd_name.partition(".")
        return (group, "", plural)

    def _set_missing(self, asset_name: str, missing: set[tuple[str, str, str]]) -> None:
        before = set().union(*self._missing.values()) if self._missing else set()
        if missing:
            self._missing[asset_name] = missing
        else:
            self._missing.pop(asset_name, None)
        after = set().union(*self._missing.values()) if self._missing else set()
        for group, version, kind in after - before:
            self.metrics.set_missing_dependency(group, version, kind, missing=True)
            log.warning("dependency missing", group=group, version=version, kind=kind)
            hco = self.view.hco()
            if hco is not None:
                self.events.emit(
                    hco,
                    type="Warning",
                    reason="CRDMissing",
                    note=f"{kind}.{group}/{version} is not installed; its assets wait for it",
                    action="Reconcile",
                )
        for group, version, kind in before - after:
            self.metrics.set_missing_dependency(group, version, kind, missing=False)

    def _report_once(self, topic: str, value: str) -> bool:
        if self._reported.get(topic) == value:
            return False
        self._reported[topic] = value
        return True

    # -- views for debug / explain --------------------------------------------------------

    def current_exclusions(self) -> list[overrides.Exclusion]:
        """The disabled-resources rules of the latest pass."""
        return list(self._exclusions)

    def missing_dependencies(self) -> dict[str, list[tuple[str, str, str]]]:
        """Assets waiting for a CRD, with the group/version/kind they wait for."""
        return {a: sorted(m) for a, m in sorted(self._missing.items())}
