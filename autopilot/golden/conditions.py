"""Evaluate catalogue conditions against a render context.

Each evaluation returns ``(holds, reason)``; the reason is a short human sentence used
in ``autopilot render --output status``, debug endpoints and logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from autopilot.golden.catalog import Condition
from autopilot.golden.context import RenderContext
from autopilot.golden.templating import lookup


def _annotation(cond: Condition, ctx: RenderContext) -> tuple[bool, str]:
    annotations = ctx.annotations
    if not cond.value:
        ok = cond.key in annotations
        return ok, f"annotation {cond.key} {'present' if ok else 'absent'}"
    actual = annotations.get(cond.key)
    if actual == cond.value:
        return True, f"annotation {cond.key} == {cond.value}"
    shown = "absent" if actual is None else repr(str(actual))
    return False, f"annotation {cond.key} != {cond.value} ({shown})"


def _feature_gate(cond: Condition, ctx: RenderContext) -> tuple[bool, str]:
    gates: Any = ((ctx.hco.get("spec") or {}).get("featureGates")) or []
    enabled = False
    if isinstance(gates, Mapping):  # older HCOs: {GateName: true}
        enabled = gates.get(cond.value) is True
    elif isinstance(gates, list):
        for gate in gates:
            if isinstance(gate, Mapping) and gate.get("name") == cond.value:
                enabled = str(gate.get("state", "")).lower() != "disabled"
            elif gate == cond.value:
                enabled = True
    state = "enabled" if enabled else "not enabled"
    return enabled, f"feature gate {cond.value} {state}"


def _hardware(cond: Condition, ctx: RenderContext) -> tuple[bool, str]:
    ok = bool(ctx.hardware.get(cond.detector, False))
    return ok, f"hardware {cond.detector} {'detected' if ok else 'not detected'}"


def _topology(cond: Condition, ctx: RenderContext) -> tuple[bool, str]:
    want = (cond.value or "true").lower() != "false"
    actual = bool(ctx.topology.get(cond.field, False))
    ok = actual == want
    return ok, f"topology {cond.field} is {str(actual).lower()} (wants {str(want).lower()})"


def _hco_field_unconfigured(cond: Condition, ctx: RenderContext) -> tuple[bool, str]:
    value = lookup(ctx.hco, cond.path, None)
    unconfigured = value is None or (isinstance(value, Mapping) and not value)
    state = "unconfigured" if unconfigured else "configured"
    return unconfigured, f"HCO {cond.path} {state}"


def _image(cond: Condition, ctx: RenderContext) -> tuple[bool, str]:
    ok = bool(ctx.images.get(cond.key))
    return ok, f"related image RELATED_IMAGE_{cond.key} {'set' if ok else 'not set'}"


_EVALUATORS = {
    "annotation": _annotation,
    "feature-gate": _feature_gate,
    "hardware": _hardware,
    "topology": _topology,
    "hco-field-unconfigured": _hco_field_unconfigured,
    "image": _image,
}


def evaluate(cond: Condition, ctx: RenderContext) -> tuple[bool, str]:
    """Evaluate one condition; unknown types (impossible after loading) are false."""
    evaluator = _EVALUATORS.get(cond.type)
    if evaluator is None:
        return False, f"unknown condition type {cond.type!r}"
    return evaluator(cond, ctx)


def evaluate_all(conditions: Iterable[Condition], ctx: RenderContext) -> tuple[bool, str]:
    """AND of every condition; the reason is the first failing one (or all that held)."""
    reasons: list[str] = []
    for cond in conditions:
        ok, reason = evaluate(cond, ctx)
        if not ok:
            return False, reason
        reasons.append(reason)
    return True, "; ".join(reasons)
