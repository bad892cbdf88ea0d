"""Decide, for each asset, whether it applies and what it renders.

The one code path shared by the controller, ``autopilot render``, ``autopilot
explain`` and the debug endpoints: :func:`plan_inputs` from a
:class:`~autopilot.golden.inputs.RenderInputs`. Exclusions by
``disabled-resources`` are applied later (engine.overrides); missing CRDs (the
kind's own, or ``gate_crd``) are the controller's business.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from autopilot.golden.catalog import Asset, GoldenState
from autopilot.golden.conditions import evaluate_all
from autopilot.golden.context import RenderContext
from autopilot.golden.gate import Activation, activation_for
from autopilot.golden.inputs import RenderInputs
from autopilot.golden.lookups import Lookups
from autopilot.golden.render import RenderError, render_asset

REASON_DISABLED = "autopilot disabled"
REASON_NOT_ALLOWED = "not in allowlist"
REASON_NOT_SELECTED = "not in allowlist (none of its objects is listed)"
REASON_OPT_IN = "opt-in without conditions"
REASON_EMPTY = "not applicable (template rendered nothing)"
REASON_RENDER_FAILED = "render failed"


@dataclass(frozen=True)
class AssetPlan:
    """The verdict for one asset.

    ``included`` is true when the asset is active and rendered (or failed to render:
    then ``error`` holds the one-line :class:`RenderError` text and ``objects`` is empty).
    """

    asset: Asset
    included: bool
    reason: str
    objects: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def plan_asset(
    golden: GoldenState,
    asset: Asset,
    ctx: RenderContext,
    *,
    activation: Activation,
    lookups: Lookups,
) -> AssetPlan:
    """Gate, conditions, then render ``asset``."""
    if activation.idle:
        return AssetPlan(asset=asset, included=False, reason=REASON_DISABLED)
    if not activation.allows(asset):
        return AssetPlan(asset=asset, included=False, reason=REASON_NOT_ALLOWED)
    if asset.install == "opt-in" and not asset.conditions:
        return AssetPlan(asset=asset, included=False, reason=REASON_OPT_IN)
    holds, why = evaluate_all(asset.conditions, ctx)
    if not holds:
        return AssetPlan(asset=asset, included=False, reason=f"condition {why}")
    try:
        objects = render_asset(golden, asset, ctx, lookups=lookups)
    except RenderError as exc:
        return AssetPlan(
            asset=asset, included=True, reason=REASON_RENDER_FAILED, error=str(exc)
        )
    if not objects:
        return AssetPlan(asset=asset, included=False, reason=REASON_EMPTY)
    # An alias may allow only some objects of the asset (e.g. one rule set of several).
    objects = activation.select(asset, objects)
    if not objects:
        return AssetPlan(asset=asset, included=False, reason=REASON_NOT_SELECTED)
    reason = why if asset.conditions else asset.install
    return AssetPlan(asset=asset, included=True, reason=reason, objects=objects)


def plan_all(
    golden: GoldenState,
    ctx: RenderContext,
    *,
    activation: Activation,
    lookups: Lookups,
    assets: Iterable[Asset] | None = None,
) -> list[AssetPlan]:
    """Plans for every asset (or the given ones), in apply order."""
    chosen = golden.assets if assets is None else sorted(assets, key=lambda a: (a.order, a.name))
    return [
        plan_asset(golden, a, ctx, activation=activation, lookups=lookups) for a in chosen
    ]


def plan_inputs(
    golden: GoldenState,
    inputs: RenderInputs,
    *,
    assets: Iterable[Asset] | None = None,
    activation: Activation | None = None,
) -> list[AssetPlan]:
    """Plans from one reading of the cluster (every asset, or the given ones).

    ``activation`` defaults to the gate of ``inputs.hco``; the controller passes the
    one it already parsed. Templates may call ``inputs.lookups``, which can block on
    the cluster: call this from a worker thread when they are live lookups.
    """
    gate = activation_for(inputs.hco, golden) if activation is None else activation
    ctx = inputs.context(version=golden.version)
    return plan_all(golden, ctx, activation=gate, lookups=inputs.lookups, assets=assets)
