"""The anti-thrashing gate of an object pass (contract §4 step 9, §6).

Before a drift correction is written, the gate asks who caused the drift
(:func:`autopilot.antithrash.flips.contest` over the live object and our dry run),
lets the edit-war detector count the owner flip, takes a token from the
object's bucket, and pauses the object when the detector says so. On pause it
writes the ``reconcile-paused`` annotation, counts the episode once, and names
the other writer(s) in one log line and one ``ThrashingDetected`` event.

The evidence survives a restart without a second annotation: while the object
is paused we no longer write it, so its ``managedFields`` keep showing the
manager that owns the contested fields, and ``autopilot explain`` reads them
through the same function. The event (for its lifetime) and the log line
carry the name too, including for removals, which managedFields cannot show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from structlog.typing import FilteringBoundLogger

from autopilot import FIELD_MANAGER
from autopilot.antithrash import flips
from autopilot.antithrash.budget import REFILL_SECONDS, ThrashGuard
from autopilot.antithrash.detector import FLIPS, EditWarDetector, Verdict
from autopilot.engine import overrides
from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.events import EventSink
from autopilot.kube.resources import ObjectRef, ResourceInfo
from autopilot.observability.metrics import Metrics

THROTTLED: Final = "throttled"
PAUSED: Final = "paused"
FAILED: Final = "failed"

NO_OTHER_WRITER = (
    "an unknown writer (no other field manager holds the contested fields: a client "
    f"writing as {FIELD_MANAGER}, or a desired state that keeps changing)"
)


@dataclass(frozen=True, slots=True)
class Stop:
    """Why the pass must not apply now."""

    kind: str  # THROTTLED, PAUSED or FAILED
    retry_after: float = 0.0
    error: str = ""


@dataclass
class EditWarGate:
    """Token buckets, the edit-war detector and the pause itself."""

    client: KubeClient
    events: EventSink
    metrics: Metrics
    detector: EditWarDetector = field(default_factory=EditWarDetector)
    guard: ThrashGuard = field(default_factory=ThrashGuard)
    manager: str = FIELD_MANAGER

    async def check(
        self,
        *,
        ref: ObjectRef,
        live: dict[str, Any] | None,
        dry_run: dict[str, Any] | None,
        res: ResourceInfo,
        regarding: dict[str, Any],
        blog: FilteringBoundLogger,
        wanted: frozenset[flips.FieldPath] | None = None,
    ) -> Stop | None:
        """Drift is about to be corrected: None to go ahead, else why not.

        ``wanted`` stands for the dry run when there was none (the fields our apply
        sets). A counted flip is logged here, before the write that corrects it (or the
        pause): whoever sees the correction on the server finds the flip in the log.
        """
        contest = None
        if live is not None and (dry_run is not None or wanted is not None):
            contest = flips.contest(live=live, dry_run=dry_run, wanted=wanted,
                                    manager=self.manager, previous=self.detector.previous(ref))
        version = str(((live or {}).get("metadata") or {}).get("resourceVersion") or "")
        verdict = self.detector.observe(ref, contest, version=version)
        if verdict.counted and contest is not None:
            blog.info("owner flip", flips=verdict.flips,
                      flips_to_pause=self.detector.flips_to_pause,
                      other_writers=[w.describe() for w in contest.writers])
        if verdict.pause and live is not None:
            return await self._pause(ref, live, res, verdict, blog)
        decision = self.guard.acquire(ref)
        if decision.allowed:
            return None
        verdict = self.detector.throttled(ref)
        if verdict.pause and live is not None:
            return await self._pause(ref, live, res, verdict, blog)
        blog.info("apply throttled", throttles=verdict.throttles)
        self.events.emit(
            regarding, type="Warning", reason="Throttled",
            note="too many applies in a short time; retrying later", action="Apply",
        )
        return Stop(THROTTLED, retry_after=decision.retry_after or REFILL_SECONDS)

    def applied(self, ref: ObjectRef, applied: dict[str, Any]) -> None:
        """Our apply succeeded: remember what we own now."""
        self.detector.applied(ref, flips.owned_by(applied, self.manager))

    def in_sync(self, ref: ObjectRef, live: dict[str, Any]) -> None:
        """A server-side check found no drift: remember what we own."""
        self.detector.learn(ref, flips.owned_by(live, self.manager))

    def paused_here(self, ref: ObjectRef) -> bool:
        """We paused ``ref`` and the user has not resumed it (the cache may lag behind)."""
        return self.detector.episode_open(ref)

    def reset(self, ref: ObjectRef) -> None:
        """The pause annotation was removed: full bucket, fresh window."""
        self.guard.reset(ref)
        self.detector.reset(ref)

    def forget(self, ref: ObjectRef) -> None:
        """The object is no longer managed."""
        self.guard.forget(ref)
        self.detector.forget(ref)

    async def _pause(
        self,
        ref: ObjectRef,
        live: dict[str, Any],
        res: ResourceInfo,
        verdict: Verdict,
        blog: FilteringBoundLogger,
    ) -> Stop:
        if self.detector.episode_open(ref):
            return Stop(PAUSED)  # paused already; our cache has not seen the annotation yet
        body = {"metadata": {"annotations": {overrides.RECONCILE_PAUSED: "true"}}}
        try:
            await self.client.patch(res, ref.name, body, namespace=ref.namespace or None)
        except ApiError as exc:
            return Stop(FAILED, error=exc.message)
        except (OSError, TimeoutError) as exc:
            return Stop(FAILED, error=f"{type(exc).__name__}: {exc}")
        if not self.detector.mark_paused(ref):
            return Stop(PAUSED)
        self.metrics.record_thrashing(ref.kind, ref.name, ref.namespace)
        writers = verdict.writers
        who = "; ".join(w.describe() for w in writers) if writers else NO_OTHER_WRITER
        blog.warning(
            "edit war detected, reconciliation paused",
            trigger=verdict.trigger, flips=verdict.flips, throttles=verdict.throttles,
            other_writers=[w.describe() for w in writers],
            other_managers=list(dict.fromkeys(w.manager for w in writers if w.manager)),
        )
        self.events.emit(
            live, type="Warning", reason="ThrashingDetected",
            note=f"edit war with {who}; {self._evidence(verdict)}. Reconciliation is paused: "
                 f"remove the {overrides.RECONCILE_PAUSED} annotation to resume, or set "
                 f"{overrides.MODE}=unmanaged to hand the object over.",
            action="Pause",
        )
        return Stop(PAUSED)

    def _evidence(self, verdict: Verdict) -> str:
        if verdict.trigger == FLIPS:
            return f"{verdict.flips} owner flips in {_duration(verdict.span)}"
        return (f"{verdict.throttles} applies throttled within "
                f"{_duration(self.detector.quiet)} of each other")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"
