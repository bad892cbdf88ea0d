"""How the assets are doing, told to the HyperConverged: render failures, missing
CRDs and the moment everything has come into line.

- a template that fails to render: one ``RenderFailed`` event per asset and
  error text;
- a kind an asset needs that is not installed: the missing-dependency metric,
  and one ``CRDMissing`` event when a kind starts missing;
- every asset passed without failure or throttling: one ``ReconcileSucceeded``
  event per transition into that state.

The sweeper's ``after`` conditions ask it which assets have been reconciled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog

from autopilot.kube.events import EventSink
from autopilot.observability.metrics import Metrics

log = structlog.get_logger("autopilot.reconcile")

Gvk = tuple[str, str, str]


class Progress:
    """Per-asset outcome and missing kinds, and the events that report them."""

    def __init__(
        self,
        *,
        asset_count: int,
        events: EventSink,
        metrics: Metrics,
        compliant_count: Callable[[], int],
        gate_kinds: Mapping[str, Gvk] | None = None,
    ) -> None:
        self._asset_count = asset_count
        self._events = events
        self._metrics = metrics
        self._compliant_count = compliant_count
        # gate CRD name -> (group, version, kind), to report what is really missing.
        self._gate_kinds = dict(gate_kinds or {})
        self._ok: dict[str, bool] = {}
        self._all_ok = False
        self._missing: dict[str, set[Gvk]] = {}
        self._render_errors: dict[str, str] = {}

    def render_failed(self, hco: dict[str, Any], asset: str, error: str) -> None:
        """An asset's templates did not render (reported once per error text)."""
        if self._render_errors.get(asset) != error:
            self._render_errors[asset] = error
            log.error("render failed", asset=asset, error=error)
            self._events.emit(hco, type="Warning", reason="RenderFailed", note=error[:1000],
                              action="Render")
        self.outcome(hco, asset, ok=False)

    def rendered(self, asset: str) -> None:
        """The asset rendered again: its next render failure is news."""
        self._render_errors.pop(asset, None)

    def outcome(self, hco: dict[str, Any], asset: str, *, ok: bool) -> None:
        """Record one asset pass; tell the HCO once whenever every asset is in line."""
        self._ok[asset] = ok
        all_ok = len(self._ok) == self._asset_count and all(self._ok.values())
        if all_ok and not self._all_ok:
            compliant = self._compliant_count()
            log.info("reconcile succeeded", compliant=compliant)
            self._events.emit(
                hco, type="Normal", reason="ReconcileSucceeded", action="Reconcile",
                note=f"every asset reconciled; {compliant} managed objects in their Golden State",
            )
        self._all_ok = all_ok

    def reconciled(self, asset: str) -> bool:
        """Whether ``asset`` has had a pass since the autopilot became active."""
        return asset in self._ok

    def gate_gvk(self, crd_name: str) -> Gvk:
        """The kind an asset's gate CRD serves (the CRD's name when it is not known)."""
        if crd_name in self._gate_kinds:
            return self._gate_kinds[crd_name]
        plural, _, group = crd_name.partition(".")
        return (group, "", plural)

    def set_missing(self, hco: dict[str, Any] | None, asset: str, missing: set[Gvk]) -> None:
        """The kinds ``asset`` waits for now; metric and event for each change."""
        before = set().union(*self._missing.values()) if self._missing else set()
        if missing:
            self._missing[asset] = missing
        else:
            self._missing.pop(asset, None)
        after = set().union(*self._missing.values()) if self._missing else set()
        for group, version, kind in after - before:
            self._metrics.set_missing_dependency(group, version, kind, missing=True)
            log.warning("dependency missing", group=group, version=version, kind=kind)
            if hco is not None:
                self._events.emit(
                    hco, type="Warning", reason="CRDMissing", action="Reconcile",
                    note=f"{kind}.{group}/{version} is not installed; its assets wait for it",
                )
        for group, version, kind in before - after:
            self._metrics.set_missing_dependency(group, version, kind, missing=False)

    def missing_dependencies(self) -> dict[str, list[Gvk]]:
        """Assets waiting for a CRD, with the group/version/kind they wait for."""
        return {a: sorted(m) for a, m in sorted(self._missing.items())}

    def idle(self) -> None:
        """The autopilot went idle: nothing is missing, nothing is reconciled."""
        for asset in list(self._missing):
            self.set_missing(None, asset, set())
        self._ok.clear()
        self._all_ok = False
