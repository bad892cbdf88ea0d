"""The controller's answers to the debug endpoints, from its live render context."""

from __future__ import annotations

import asyncio
from typing import Any

from autopilot.controller.reconciler import Reconciler
from autopilot.engine import overrides
from autopilot.golden import gate as ggate
from autopilot.golden import plan as gplan
from autopilot.golden.catalog import Asset


class ControllerDebug:
    """Implements :class:`autopilot.web.DebugProvider` over a running reconciler."""

    def __init__(self, reconciler: Reconciler) -> None:
        self._r = reconciler

    async def _plans(self, assets: list[Asset]) -> list[gplan.AssetPlan] | None:
        """Plans from the inputs a reconcile pass would read now (None: no HCO)."""
        r = self._r
        hco = r.view.hco()
        if hco is None:
            return None
        inputs = await r.inputs.read(hco)
        activation = ggate.activation_for(hco, r.golden)
        return await asyncio.to_thread(
            gplan.plan_inputs, r.golden, inputs, assets=assets, activation=activation
        )

    async def render(
        self, *, asset: str | None, show_excluded: bool, only_installed: bool
    ) -> list[dict[str, Any]] | None:
        """Rendered objects (every asset or one), optionally with excluded ones."""
        r = self._r
        if asset is not None and not r.golden.has_asset(asset):
            return None
        assets = [r.golden.asset(asset)] if asset else list(r.golden.assets)
        plans = await self._plans(assets) or []
        exclusions = r.current_exclusions()
        out: list[dict[str, Any]] = []
        for plan in plans:
            if not plan.included and not show_excluded:
                continue
            for obj in plan.objects:
                installed = r.view.resource_for(str(obj.get("apiVersion")), str(obj.get("kind")))
                if only_installed and installed is None:
                    continue
                excluded = overrides.is_excluded(obj, exclusions)
                if excluded and not show_excluded:
                    continue
                out.append(obj)
            if show_excluded and not plan.objects:
                out.append(
                    {"asset": plan.asset.name, "included": plan.included, "reason": plan.reason,
                     "error": plan.error}
                )
        return out

    def exclusions(self) -> object:
        """The parsed disabled-resources rules in effect."""
        return [
            {"kind": e.kind, "name": e.name, "namespace": e.namespace}
            for e in self._r.current_exclusions()
        ]

    async def features(self) -> object:
        """Each asset: feature, included or not and why, missing dependencies."""
        r = self._r
        plans = await self._plans(list(r.golden.assets))
        missing = r.missing_dependencies()
        if plans is None:
            # A cache that never listed (401, 403, API server away) is not "no HCO".
            return {"hco": r.view.hco_unknown() or "not found", "assets": []}
        return {
            "assets": [
                {
                    "name": p.asset.name,
                    "feature": p.asset.feature,
                    "group": p.asset.group,
                    "included": p.included,
                    "reason": p.reason,
                    "error": p.error,
                    "missingDependencies": [
                        {"group": g, "version": v, "kind": k}
                        for g, v, k in missing.get(p.asset.name, [])
                    ],
                }
                for p in plans
            ]
        }

    def tombstones(self) -> object:
        """Tombstones and their last status."""
        return self._r.sweeper.snapshot()

    async def explain(self, kind: str, namespace: str, name: str) -> object | None:
        """State of one managed object: compliance, customizations, pause, diff, last error."""
        r = self._r
        ns = "" if namespace == "_" else namespace
        match = [
            st for st in r.book.all_objects()
            if st.ref.kind.lower() == kind.lower() and st.ref.name == name
            and st.ref.namespace == ns
        ]
        if not match:
            return None
        st = match[0]
        return {
            **st.as_dict(),
            "apiVersion": st.ref.api_version,
            "editWar": r.edit_war.detector.snapshot(st.ref),
            "events": "kubectl get events -n "
            + (ns or "default")
            + f" --field-selector involvedObject.name={name}",
        }
