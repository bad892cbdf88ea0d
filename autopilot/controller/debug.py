"""The controller's answers to the debug endpoints, from its live render context.

Every answer comes from a port (:mod:`autopilot.controller.ports`) or from the
same reads a reconcile pass makes: the HCO context, the cache inputs and the plan.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from autopilot.controller.cache_inputs import CacheInputs
from autopilot.controller.hco_context import read_context
from autopilot.controller.ports import (
    ClusterView,
    DependencyStatus,
    EditWarHistory,
    ObjectHistory,
    TombstoneStatus,
)
from autopilot.engine import overrides
from autopilot.golden import gate as ggate
from autopilot.golden import plan as gplan
from autopilot.golden.catalog import Asset, GoldenState


@dataclass(frozen=True)
class ControllerDebug:
    """Implements :class:`autopilot.web.DebugProvider` over the running controller's parts."""

    golden: GoldenState
    view: ClusterView
    inputs: CacheInputs
    objects: ObjectHistory
    edit_wars: EditWarHistory
    tombstone_status: TombstoneStatus
    dependencies: DependencyStatus

    async def _plans(self, assets: list[Asset]) -> list[gplan.AssetPlan] | None:
        """Plans from the inputs a reconcile pass would read now (None: no HCO)."""
        hco = self.view.hco()
        if hco is None:
            return None
        inputs = await self.inputs.read(hco)
        activation = ggate.activation_for(hco, self.golden)
        return await asyncio.to_thread(
            gplan.plan_inputs, self.golden, inputs, assets=assets, activation=activation
        )

    def _exclusions(self) -> tuple[overrides.Exclusion, ...]:
        """The disabled-resources rules the next pass applies (none while idle)."""
        context = read_context(self.view.hco(), golden=self.golden)
        return context.exclusions if context is not None else ()

    async def render(
        self, *, asset: str | None, show_excluded: bool, only_installed: bool
    ) -> list[dict[str, Any]] | None:
        """Rendered objects (every asset or one), optionally with excluded ones."""
        if asset is not None and not self.golden.has_asset(asset):
            return None
        assets = [self.golden.asset(asset)] if asset else list(self.golden.assets)
        plans = await self._plans(assets) or []
        exclusions = self._exclusions()
        out: list[dict[str, Any]] = []
        for plan in plans:
            if not plan.included and not show_excluded:
                continue
            for obj in plan.objects:
                installed = self.view.resource_for(str(obj.get("apiVersion")), str(obj.get("kind")))
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
            for e in self._exclusions()
        ]

    async def features(self) -> object:
        """Each asset: feature, included or not and why, missing dependencies."""
        plans = await self._plans(list(self.golden.assets))
        missing = self.dependencies.missing_dependencies()
        if plans is None:
            # A cache that never listed (401, 403, API server away) is not "no HCO".
            return {"hco": self.view.hco_unknown() or "not found", "assets": []}
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
        return self.tombstone_status.snapshot()

    async def explain(self, kind: str, namespace: str, name: str) -> object | None:
        """State of one managed object: compliance, customizations, pause, diff, last error."""
        ns = "" if namespace == "_" else namespace
        match = [
            st for st in self.objects.all_objects()
            if st.ref.kind.lower() == kind.lower() and st.ref.name == name
            and st.ref.namespace == ns
        ]
        if not match:
            return None
        st = match[0]
        return {
            **st.as_dict(),
            "apiVersion": st.ref.api_version,
            "editWar": self.edit_wars.snapshot(st.ref),
            "events": "kubectl get events -n "
            + (ns or "default")
            + f" --field-selector involvedObject.name={name}",
        }
