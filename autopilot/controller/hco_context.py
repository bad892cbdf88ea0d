"""What the HyperConverged asks of the autopilot: activation, allowlist and exclusions.

:func:`read_context` is a pure reading of one HCO state: is the autopilot
active, which assets may it touch (``platform.kubevirt.io/autopilot``), which
objects are excluded (``disabled-resources``, rules naming a renamed object
also cover its successor). :class:`ContextReports` tells the user, once per
value, what in those annotations cannot be honoured. Reconcile passes and the
debug views read the same context, so ``/debug/exclusions`` shows what the next
pass skips.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from autopilot.engine import overrides
from autopilot.engine.renames import follow_renames
from autopilot.golden import gate as ggate
from autopilot.golden.catalog import GoldenState
from autopilot.kube.events import EventSink

log = structlog.get_logger("autopilot.reconcile")


@dataclass(frozen=True)
class HcoContext:
    """The parsed activation gate and exclusions of one active HCO state."""

    hco: dict[str, Any]
    gate: ggate.Activation
    exclusions: tuple[overrides.Exclusion, ...] = ()
    # The disabled-resources text and why it was refused (then no exclusion applies).
    disabled_text: str = ""
    disabled_error: str = ""


def read_context(hco: dict[str, Any] | None, *, golden: GoldenState) -> HcoContext | None:
    """The context of an active HCO; None when there is none or it leaves us idle."""
    if hco is None:
        return None
    gate = ggate.activation_for(hco, golden)
    if gate.idle:
        return None
    text = overrides.annotation(hco, overrides.DISABLED_RESOURCES) or ""
    if not text:
        return HcoContext(hco=hco, gate=gate)
    try:
        exclusions = follow_renames(overrides.parse_disabled_resources(text), golden.tombstones)
    except overrides.ExclusionError as exc:
        return HcoContext(hco=hco, gate=gate, disabled_text=text, disabled_error=str(exc))
    return HcoContext(hco=hco, gate=gate, exclusions=tuple(exclusions), disabled_text=text)


class ContextReports:
    """Warns (log line and event on the HCO) once per bad allowlist or exclusion value."""

    def __init__(self, *, events: EventSink) -> None:
        self._events = events
        self._reported: dict[str, str] = {}

    def report(self, context: HcoContext) -> None:
        """Report what in ``context`` cannot be honoured, if not reported already."""
        gate, hco = context.gate, context.hco
        if gate.unknown and self._once("unknown-assets", ",".join(gate.unknown)):
            log.warning("autopilot allowlist names unknown assets", unknown=list(gate.unknown),
                        suggestions=dict(gate.suggestions))
            self._events.emit(
                hco, type="Warning", reason="InvalidAllowlist", action="Reconcile",
                note="unknown asset or group name(s) in the allowlist: " + gate.unknown_note(),
            )
        error = context.disabled_error
        if error and self._once("disabled-resources", context.disabled_text):
            log.warning("invalid disabled-resources annotation; ignoring it", error=error)
            self._events.emit(
                hco, type="Warning", reason="InvalidDisabledResources", action="Reconcile",
                note=f"ignored (no exclusions apply): {error}",
            )

    def _once(self, topic: str, value: str) -> bool:
        if self._reported.get(topic) == value:
            return False
        self._reported[topic] = value
        return True
