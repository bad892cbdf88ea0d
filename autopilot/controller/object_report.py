"""What an object pass tells the user: the per-object metric series, events and log lines.

:mod:`autopilot.controller.object_pass` decides; this module reports, keeping the
object's :class:`~autopilot.controller.state.ObjectState` and its metric series
equal, and each event to once per transition where the contract says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from structlog.typing import FilteringBoundLogger

from autopilot.controller.state import ObjectState
from autopilot.engine import overrides
from autopilot.engine.customize import Customized
from autopilot.kube.events import EventSink
from autopilot.kube.resources import ObjectRef
from autopilot.observability.metrics import CUSTOMIZATION_PATCH, CUSTOMIZATION_UNMANAGED, Metrics

NOTE_LIMIT = 1000


@dataclass(frozen=True)
class ObjectReports:
    """Metric series and events of managed objects."""

    events: EventSink
    metrics: Metrics

    def compliance(self, st: ObjectState, value: int | None) -> None:
        """1 in its Golden State, 0 not, None no longer judged (paused, unmanaged)."""
        st.compliance = value
        r = st.ref
        if value is None:
            self.metrics.remove_compliance(r.kind, r.name, r.namespace)
        else:
            self.metrics.set_compliance(r.kind, r.name, r.namespace, ok=value == 1)

    def paused(self, st: ObjectState, paused: bool) -> None:
        """Whether reconciliation of the object is paused."""
        st.paused = paused
        r = st.ref
        self.metrics.set_paused(r.kind, r.name, r.namespace, paused=paused)

    def customizations(self, st: ObjectState, active: frozenset[str]) -> None:
        """The customization types in effect on the object."""
        st.customizations = active
        r = st.ref
        self.metrics.set_customizations(r.kind, r.name, r.namespace, types=active)

    def customized(self, st: ObjectState, out: Customized, *, regarding: dict[str, Any],
                   log: FilteringBoundLogger) -> None:
        """Report a bad patch or ignore-fields annotation once per value; record the rest."""
        if out.patch_error and out.patch_text is not None:
            if st.report_once("patch", out.patch_text):
                log.warning("invalid patch annotation", error=out.patch_error)
                self.events.emit(regarding, type="Warning", reason="InvalidPatch",
                                 note=clip(out.patch_error), action="Patch")
        elif out.patch_text is None:
            st.clear_report("patch")
        if out.invalid_pointers and out.ignore_text is not None:
            if st.report_once("ignore", out.ignore_text):
                log.warning("invalid ignore-fields annotation", pointers=out.invalid_pointers)
                self.events.emit(
                    regarding, type="Warning", reason="InvalidIgnoreFields",
                    note=clip("invalid pointer(s) skipped: " + ", ".join(out.invalid_pointers)),
                    action="IgnoreFields",
                )
        elif out.ignore_text is None:
            st.clear_report("ignore")
        self.customizations(st, out.active)

    def unmanaged(self, st: ObjectState, live: dict[str, Any], *,
                  log: FilteringBoundLogger) -> None:
        """The object was handed to the administrator (``mode: unmanaged``)."""
        st.unmanaged = True
        self.compliance(st, None)
        self.customizations(st, frozenset({CUSTOMIZATION_UNMANAGED}))
        if st.report_once("unmanaged", "true"):
            log.info("object is unmanaged; leaving it alone")
            self.events.emit(
                live, type="Normal", reason="UnmanagedMode",
                note=f"{overrides.MODE}=unmanaged: the autopilot no longer manages this object",
                action="Skip",
            )

    def drifted(self, st: ObjectState, live: dict[str, Any], diffs: list[str], *,
                log: FilteringBoundLogger) -> None:
        """Drift found: the explain view, one event per live version, a log line."""
        st.last_diff = tuple(diffs[:20])
        live_rv = str((live.get("metadata") or {}).get("resourceVersion", ""))
        if st.report_once("drift", live_rv):
            self.events.emit(live, type="Normal", reason="DriftDetected", action="Reconcile",
                             note=clip("drift in " + ", ".join(diffs[:10])))
        log.info("drift detected", fields=diffs[:10])

    def failed(self, st: ObjectState, message: str, *, verb: str, regarding: dict[str, Any],
               log: FilteringBoundLogger) -> None:
        """A read, dry run, apply or pause failed."""
        st.note_error(message)
        self.compliance(st, 0)
        log.error("failed to apply", error=message, step=verb)
        self.events.emit(regarding, type="Warning", reason="ApplyFailed", note=clip(message),
                         action="Apply")

    def applied(self, st: ObjectState, applied: dict[str, Any], *, created: bool,
                log: FilteringBoundLogger) -> None:
        """A successful apply: compliant now; what was applied, restored, patched."""
        st.last_error = ""
        st.clear_report("failed")
        self.compliance(st, 1)
        log.info("successfully applied", created=created)
        self.events.emit(applied, type="Normal", reason="AssetApplied",
                         note=f"applied asset {st.asset}", action="Apply")
        if not created:
            self.events.emit(applied, type="Normal", reason="DriftCorrected",
                             note=clip("restored " + ", ".join(st.last_diff[:10])),
                             action="Apply")
        if CUSTOMIZATION_PATCH in st.customizations:
            self.events.emit(applied, type="Normal", reason="PatchApplied",
                             note="applied with the user's platform.kubevirt.io/patch",
                             action="Apply")

    def forget(self, ref: ObjectRef) -> None:
        """Drop every series of an object that is no longer managed."""
        self.metrics.remove_series(ref.kind, ref.name, ref.namespace)


def clip(text: str) -> str:
    """An event note within the API server's limit."""
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"
