"""One pass of the "patched baseline" over one rendered object (contract §4, steps 3-10).

The asset-level reconciler renders and filters; this module takes one desired
object and brings the live one in line: read, paused/unmanaged checks, user
patch and ignore-fields, drift check by SSA dry run (with a cached verdict),
namespace guard, anti-thrashing gate, forced apply, and the metrics, events
and log lines that report each outcome.

A *quick* pass (a watch event of one object, judged against the asset's last
render) first judges the live object against its baseline
(:mod:`autopilot.controller.baselines`): in sync costs no request, drift that is
certain goes to the gate and the apply at once, without the dry run, and is
reported after the apply went out; anything else takes the dry run as above. So
does an object we never applied (no Apply entry of ours): with no field of ours to
lose, no owner flip can be counted, and the apply shows what it changed. The
gate's owner flip line is the exception: it is written before the apply, so the
record of a flip never lags the correction that anyone can see on the server.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import structlog
from structlog.typing import FilteringBoundLogger

from autopilot import FIELD_MANAGER
from autopilot.antithrash.flips import applied_by
from autopilot.antithrash.pause import FAILED, PAUSED, EditWarGate, Stop
from autopilot.controller.adoption import AdoptionReads
from autopilot.controller.baselines import Judgement, judge
from autopilot.controller.object_report import ObjectReports
from autopilot.controller.ports import ClusterView, EventSink
from autopilot.controller.rechecks import Rechecks
from autopilot.controller.state import ObjectState, StateBook
from autopilot.engine import drift, overrides
from autopilot.engine.customize import customize
from autopilot.engine.textdiff import unified_diff
from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.resources import ObjectRef, ResourceInfo, not_served
from autopilot.observability.metrics import Metrics

log = structlog.get_logger("autopilot.reconcile")

class Outcome(Enum):
    """How one object pass ended."""

    IN_SYNC = "in-sync"
    APPLIED = "applied"
    SKIPPED = "skipped"
    THROTTLED = "throttled"
    FAILED = "failed"


@dataclass(frozen=True)
class Result:
    """Outcome plus, for throttling, when to look again."""

    outcome: Outcome
    retry_after: float | None = None
    error: str = ""


@dataclass
class _Pass:
    """One pass over one object: what each step learns, and the log bound to the object."""

    st: ObjectState
    res: ResourceInfo
    desired: dict[str, Any]
    log: FilteringBoundLogger
    forced: bool
    quick: bool = False
    live: dict[str, Any] | None = None
    dry_run: dict[str, Any] | None = None
    fingerprint: str = ""
    # Drift judged without a dry run: the fields our apply sets (for the gate's flip check).
    wanted: frozenset[tuple[str, ...]] | None = None
    # An object we never applied: the apply goes out without a dry run first.
    adopting: bool = False

    @property
    def regarding(self) -> dict[str, Any]:
        """What events about this pass are about: the live object, else the desired one."""
        return self.live or self.desired


# One step of a pass: None to go on, a Result to end the pass.
Step = Callable[[_Pass], Awaitable[Result | None]]


@dataclass
class ObjectPass:
    """Shared collaborators of every object pass (built once by the wiring)."""

    client: KubeClient
    view: ClusterView
    events: EventSink
    metrics: Metrics
    book: StateBook
    rechecks: Rechecks
    edit_war: EditWarGate
    adoption: AdoptionReads
    # ``run --observe``: report what the apply would change, never make it.
    observe: bool = False
    reports: ObjectReports = field(init=False)

    def __post_init__(self) -> None:
        self.reports = ObjectReports(events=self.events, metrics=self.metrics)

    async def run(self, *, asset: str, desired: dict[str, Any], res: ResourceInfo,
                  quick: bool = False) -> Result:
        """Reconcile one desired object; never raises for API errors (returns FAILED).

        ``quick``: judge the live object against its baseline before any dry run.
        """
        ref = ObjectRef.of(desired)
        st = self.book.object(ref, asset=asset)
        self.book.claim(ref, asset)
        one = _Pass(st=st, res=res, desired=desired, forced=self.rechecks.take_forced(ref),
                    quick=quick and not self.observe,
                    log=log.bind(kind=ref.kind, name=ref.name, namespace=ref.namespace,
                                 asset=asset))
        with self.metrics.time_reconcile(ref.kind, ref.name, ref.namespace):
            finish: tuple[Step, ...] = ((self._would_apply,) if self.observe
                                        else (self._anti_thrashing, self._apply))
            for step in (self._read_live, self._hands_off, self._customize,
                         self._check_drift, *finish):
                result = await step(one)
                if result is not None:
                    return result
        raise AssertionError("the apply step always ends the pass")  # pragma: no cover

    async def _read_live(self, one: _Pass) -> Result | None:
        """Read the live object: from the cache when it holds it, else from the server."""
        st, res = one.st, one.res
        one.live = self.view.cached_object(res, namespace=st.ref.namespace, name=st.ref.name)
        if one.live is not None:
            return None
        # The cache holds labelled objects only. This read is the adoption read: it tells
        # a missing object (to create) from one without our label, which is adopted on
        # the first pass, and left alone if it is paused or unmanaged (a user may hand an
        # object over and strip our label). Skipping it would overwrite such objects.
        try:
            one.live = await self.adoption.read(res, namespace=st.ref.namespace, name=st.ref.name)
        except ApiError as exc:
            return self._failed(one, exc.message, verb="read")
        except (OSError, TimeoutError) as exc:
            return self._failed(one, _describe(exc), verb="read")
        return None

    async def _hands_off(self, one: _Pass) -> Result | None:
        """SKIPPED for a paused or unmanaged object; None (and state cleared) otherwise."""
        st, live = one.st, one.live
        if live is not None and overrides.is_paused(live):
            self.reports.paused(st, True)
            self.reports.compliance(st, None)
            return Result(Outcome.SKIPPED)
        if st.paused and not self.edit_war.paused_here(st.ref):
            self.reports.paused(st, False)
        if live is not None and overrides.is_unmanaged(live):
            self.reports.unmanaged(st, live, log=one.log)
            return Result(Outcome.SKIPPED)
        if st.unmanaged:  # the customization series follow in _customize
            st.unmanaged = False
            st.clear_report("unmanaged")
        return None

    async def _check_drift(self, one: _Pass) -> Result | None:
        """The pass's end when nothing is to apply (in sync, failed, guarded); else None,
        with the dry run showing the drift (none when the object is to be created)."""
        st, live = one.st, one.live
        ref = st.ref
        # A cached verdict is valid while neither side changed.
        live_rv = str(((live or {}).get("metadata") or {}).get("resourceVersion", ""))
        judged = Judgement.UNSURE if live is None or one.forced else (
            Judgement.IN_SYNC if self.rechecks.verdicts.get(ref, one.fingerprint, live_rv)
            else _judge(self.rechecks, one, live, live_rv) if one.quick else Judgement.UNSURE)
        if judged is Judgement.IN_SYNC:
            self.reports.compliance(st, 1)
            return Result(Outcome.IN_SYNC)
        if judged is Judgement.DRIFTED:
            return None  # certain without a dry run: to the gate and the apply
        if live is None:
            if ref.namespace and self.view.namespace_exists(ref.namespace) is False:
                # Namespace guard: the owning operator is not installed yet; stay quiet.
                return Result(Outcome.SKIPPED)
            return None
        if not (one.forced or self.observe or applied_by(live, FIELD_MANAGER)):
            one.adopting = True  # never applied by us: no flip to count, no dry run first
            return None
        dry = await self._server_apply(one, dry_run=True)
        if isinstance(dry, Result):
            return dry
        diffs = drift.diff_paths(dry, live)
        st.last_checked_at = time.time()
        if not diffs:
            self.edit_war.in_sync(ref, live)
            self.rechecks.in_line(ref, fingerprint=one.fingerprint, obj=live, wanted_from=dry)
            st.last_diff = ()
            self.reports.compliance(st, 1)
            if one.forced:
                one.log.info("object in sync", forced=True)
            return Result(Outcome.IN_SYNC)
        self.reports.drifted(st, live, diffs, log=one.log)
        one.dry_run = dry
        return None

    async def _anti_thrashing(self, one: _Pass) -> Result | None:
        """None to go ahead with the apply; else why not (throttled, paused, failed)."""
        stop = await self.edit_war.check(ref=one.st.ref, live=one.live, dry_run=one.dry_run,
                                         res=one.res, regarding=one.regarding, blog=one.log,
                                         wanted=one.wanted)
        return None if stop is None else self._stopped(one, stop)

    async def _apply(self, one: _Pass) -> Result:
        applied = await self._server_apply(one, dry_run=False)
        if isinstance(applied, Result):
            return applied
        _report_drift_applied(self.reports, one, applied)
        self._report_applied(one, applied)
        return Result(Outcome.APPLIED)

    async def _would_apply(self, one: _Pass) -> Result:
        """Observe mode: the object is drifted (or missing); say what the apply would do."""
        if one.dry_run is None:  # to be created: the dry run shows the object as it would be
            answer = await self._server_apply(one, dry_run=True)
            if isinstance(answer, Result):
                return answer
            one.dry_run = answer
        st = one.st
        self.reports.compliance(st, 0)
        before = drift.normalise_for_compare(one.live) if one.live is not None else None
        after = drift.normalise_for_compare(one.dry_run)
        live_rv = str(((one.live or {}).get("metadata") or {}).get("resourceVersion", ""))
        if st.report_once("would-apply", f"{drift.desired_fingerprint(after)}/{live_rv}"):
            one.log.info("would apply", created=one.live is None, fields=list(st.last_diff[:10]),
                         diff=unified_diff(before, after, title=str(st.ref)))
        return Result(Outcome.SKIPPED)

    def _report_applied(self, one: _Pass, applied: dict[str, Any]) -> None:
        """A successful apply: remember what we own and the verdict, tell the user."""
        st = one.st
        self.edit_war.applied(st.ref, applied)
        self.rechecks.in_line(st.ref, fingerprint=one.fingerprint, obj=applied,
                              wanted_from=applied)
        st.last_applied_at = time.time()
        self.reports.applied(st, applied, created=one.live is None, log=one.log)

    async def _server_apply(self, one: _Pass, *, dry_run: bool) -> dict[str, Any] | Result:
        """Forced SSA (or its dry run); a failure comes back as the pass's Result."""
        verb = "dry-run" if dry_run else "apply"
        try:
            return await self.client.apply(one.res, one.desired, force=True, dry_run=dry_run)
        except ApiError as exc:
            if _missing_namespace(exc):
                return Result(Outcome.SKIPPED)  # namespace guard, seen by the server
            return self._failed(one, _api_message(exc, one.res), verb=verb)
        except (OSError, TimeoutError) as exc:
            return self._failed(one, _describe(exc), verb=verb)

    async def _customize(self, one: _Pass) -> None:
        """Apply the user's patch and ignore-fields to the desired object; report bad ones."""
        out = customize(one.desired, one.live, kind=one.st.ref.kind)
        self.reports.customized(one.st, out, regarding=one.regarding, log=one.log)
        one.desired = out.desired
        one.fingerprint = drift.desired_fingerprint(out.desired)
        return None

    def _stopped(self, one: _Pass, stop: Stop) -> Result:
        if stop.kind == PAUSED:
            self.reports.paused(one.st, True)
            self.reports.compliance(one.st, None)
            return Result(Outcome.SKIPPED)
        if stop.kind == FAILED:
            return self._failed(one, stop.error, verb="pause")
        self.reports.compliance(one.st, 0)
        return Result(Outcome.THROTTLED, retry_after=stop.retry_after)

    def _failed(self, one: _Pass, message: str, *, verb: str) -> Result:
        self.reports.failed(one.st, message, verb=verb, regarding=one.regarding, log=one.log)
        return Result(Outcome.FAILED, error=message)

    def forget_object(self, ref: ObjectRef) -> None:
        """Drop every series and memory of an object that is no longer managed."""
        self.reports.forget(ref)
        self.rechecks.forget(ref)
        self.edit_war.forget(ref)
        self.book.drop(ref)


def _report_drift_applied(reports: ObjectReports, one: _Pass, applied: dict[str, Any]) -> None:
    """Drift judged without a dry run (certain, or an object we never applied): what
    the apply changed is what had drifted."""
    if one.live is None or (one.wanted is None and not one.adopting):
        return
    diffs = drift.diff_paths(applied, one.live)
    if diffs or not one.adopting:
        reports.drifted(one.st, one.live, diffs, log=one.log)
    else:
        one.st.last_diff = ()
    one.st.last_checked_at = time.time()


def _judge(rechecks: Rechecks, one: _Pass, live: dict[str, Any], live_rv: str) -> Judgement:
    """A quick pass's verdict from the object's baseline (no request)."""
    base = rechecks.baselines.get(one.st.ref)
    judged = judge(base, fingerprint=one.fingerprint, live=live, manager=FIELD_MANAGER)
    if judged is Judgement.IN_SYNC:
        rechecks.verdicts.put(one.st.ref, one.fingerprint, live_rv)
    elif judged is Judgement.DRIFTED and base is not None:
        one.wanted = base.wanted  # for the gate, in place of the dry run's Apply entry
    return judged


def _missing_namespace(exc: ApiError) -> bool:
    details = (exc.body or {}).get("details") or {}
    return exc.status == 404 and details.get("kind") == "namespaces"


def _api_message(exc: ApiError, res: ResourceInfo) -> str:
    """The server's message, word for word; for a kind it no longer serves (a 404 that
    names no object: a bare "404 page not found" once the CRD is gone) led by what
    people grep for: the kind, its version and the CRD."""
    details = (exc.body or {}).get("details") or {}
    if exc.status != 404 or details.get("name"):
        return exc.message
    what = not_served(kind=res.kind, api_version=res.api_version, plural=res.plural)
    return f"{what} (the API server answered: {exc.message})"


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text

