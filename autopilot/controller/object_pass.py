"""One pass of the "patched baseline" over one rendered object (contract §4, steps 3-10).

The asset-level reconciler renders and filters; this module takes one desired
object and brings the live one in line: read, paused/unmanaged checks, user
patch and ignore-fields, drift check by SSA dry run (with a cached verdict),
namespace guard, anti-thrashing gate, forced apply, and the metrics, events
and log lines that report each outcome.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import structlog

from autopilot.controller.edit_war import FAILED, PAUSED, EditWarGate, Stop
from autopilot.controller.ports import ClusterView, EventSink
from autopilot.controller.state import ObjectState, StateBook
from autopilot.engine import drift, overrides
from autopilot.engine.customize import customize
from autopilot.engine.textdiff import unified_diff
from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.resources import ObjectRef, ResourceInfo, not_served
from autopilot.observability.metrics import CUSTOMIZATION_PATCH, CUSTOMIZATION_UNMANAGED, Metrics

log = structlog.get_logger("autopilot.reconcile")

NOTE_LIMIT = 1000


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
class ObjectPass:
    """Shared collaborators of every object pass (built once by the reconciler)."""

    client: KubeClient
    view: ClusterView
    events: EventSink
    metrics: Metrics
    book: StateBook
    verdicts: drift.VerdictCache
    edit_war: EditWarGate
    # ``run --observe``: report what the apply would change, never make it.
    observe: bool = False

    async def run(
        self, *, asset: str, desired: dict[str, Any], res: ResourceInfo, forced: bool = False
    ) -> Result:
        """Reconcile one desired object; never raises for API errors (returns FAILED)."""
        ref = ObjectRef.of(desired)
        st = self.book.object(ref, asset=asset)
        self.book.claim(ref, asset)
        blog = log.bind(kind=ref.kind, name=ref.name, namespace=ref.namespace, asset=asset)
        with self.metrics.time_reconcile(ref.kind, ref.name, ref.namespace):
            return await self._run(st=st, desired=desired, res=res, blog=blog, forced=forced)

    async def _run(
        self,
        *,
        st: ObjectState,
        desired: dict[str, Any],
        res: ResourceInfo,
        blog: Any,
        forced: bool,
    ) -> Result:
        ref = st.ref
        try:
            live = await self._read_live(res, ref)
        except ApiError as exc:
            return self._failed(st, desired, blog, exc.message, verb="read")
        except (OSError, TimeoutError) as exc:
            return self._failed(st, desired, blog, _describe(exc), verb="read")
        skipped = self._hands_off(st, live, blog)
        if skipped is not None:
            return skipped

        desired = self._customize(st, desired, live, blog)
        regarding = live or desired
        fingerprint = drift.desired_fingerprint(desired)
        checked = await self._check_drift(
            st, desired, live, res, blog, fingerprint=fingerprint, forced=forced
        )
        if isinstance(checked, Result):
            return checked
        if self.observe:
            return await self._would_apply(st, desired, live, res, blog, dry=checked)

        stop = await self.edit_war.check(
            ref=ref, live=live, dry_run=checked, res=res, regarding=regarding, blog=blog
        )
        if stop is not None:
            return self._stopped(st, regarding, blog, stop)

        applied = await self._server_apply(st, regarding, blog, res, desired, dry_run=False)
        if isinstance(applied, Result):
            return applied
        self._report_applied(st, applied, fingerprint, blog, created=live is None)
        return Result(Outcome.APPLIED)

    async def _would_apply(
        self, st: ObjectState, desired: dict[str, Any], live: dict[str, Any] | None,
        res: ResourceInfo, blog: Any, *, dry: dict[str, Any] | None,
    ) -> Result:
        """Observe mode: the object is drifted (or missing); say what the apply would do."""
        if dry is None:  # to be created: the dry run shows the object as it would be
            answer = await self._server_apply(st, desired, blog, res, desired, dry_run=True)
            if isinstance(answer, Result):
                return answer
            dry = answer
        self._set_compliance(st, 0)
        before = drift.normalise_for_compare(live) if live is not None else None
        after = drift.normalise_for_compare(dry)
        live_rv = str(((live or {}).get("metadata") or {}).get("resourceVersion", ""))
        if st.report_once("would-apply", f"{drift.desired_fingerprint(after)}/{live_rv}"):
            blog.info("would apply", created=live is None, fields=list(st.last_diff[:10]),
                      diff=unified_diff(before, after, title=str(st.ref)))
        return Result(Outcome.SKIPPED)

    def _hands_off(self, st: ObjectState, live: dict[str, Any] | None, blog: Any) -> Result | None:
        """SKIPPED for a paused or unmanaged object; None (and state cleared) otherwise."""
        if live is not None and overrides.is_paused(live):
            self._set_paused(st, True)
            self._drop_compliance(st)
            return Result(Outcome.SKIPPED)
        if st.paused and not self.edit_war.paused_here(st.ref):
            self._set_paused(st, False)
        if live is not None and overrides.is_unmanaged(live):
            self._enter_unmanaged(st, live, blog)
            return Result(Outcome.SKIPPED)
        if st.unmanaged:  # the customization series follow in _customize
            st.unmanaged = False
            st.clear_report("unmanaged")
        return None

    async def _check_drift(
        self,
        st: ObjectState,
        desired: dict[str, Any],
        live: dict[str, Any] | None,
        res: ResourceInfo,
        blog: Any,
        *,
        fingerprint: str,
        forced: bool,
    ) -> Result | dict[str, Any] | None:
        """The pass's end when nothing is to apply (in sync, failed, guarded); else the
        dry run showing the drift, or None when the object is to be created."""
        ref = st.ref
        # A cached verdict is valid while neither side changed.
        live_rv = str(((live or {}).get("metadata") or {}).get("resourceVersion", ""))
        if live is not None and not forced and self.verdicts.get(ref, fingerprint, live_rv):
            self._set_compliance(st, 1)
            return Result(Outcome.IN_SYNC)
        if live is None:
            if ref.namespace and self.view.namespace_exists(ref.namespace) is False:
                # Namespace guard: the owning operator is not installed yet; stay quiet.
                return Result(Outcome.SKIPPED)
            return None
        dry = await self._server_apply(st, live, blog, res, desired, dry_run=True)
        if isinstance(dry, Result):
            return dry
        diffs = drift.diff_paths(dry, live)
        st.last_checked_at = time.time()
        if not diffs:
            self.edit_war.in_sync(ref, live)
            self.verdicts.put(ref, fingerprint, live_rv)
            st.last_diff = ()
            self._set_compliance(st, 1)
            if forced:
                blog.info("object in sync", forced=True)
            return Result(Outcome.IN_SYNC)
        st.last_diff = tuple(diffs[:20])
        if st.report_once("drift", live_rv):
            self.events.emit(
                live,
                type="Normal",
                reason="DriftDetected",
                note=_clip("drift in " + ", ".join(diffs[:10])),
                action="Reconcile",
            )
        blog.info("drift detected", fields=diffs[:10])
        return dry

    def _report_applied(
        self, st: ObjectState, applied: dict[str, Any], fingerprint: str, blog: Any,
        *, created: bool,
    ) -> None:
        """A successful apply: remember what we own and the verdict, tell the user."""
        ref = st.ref
        self.edit_war.applied(ref, applied)
        new_rv = str((applied.get("metadata") or {}).get("resourceVersion", ""))
        self.verdicts.put(ref, fingerprint, new_rv)
        st.last_error = ""
        st.last_applied_at = time.time()
        st.clear_report("failed")
        self._set_compliance(st, 1)
        blog.info("successfully applied", created=created)
        self.events.emit(
            applied, type="Normal", reason="AssetApplied",
            note=f"applied asset {st.asset}", action="Apply",
        )
        if not created:
            self.events.emit(
                applied, type="Normal", reason="DriftCorrected",
                note=_clip("restored " + ", ".join(st.last_diff[:10])), action="Apply",
            )
        if CUSTOMIZATION_PATCH in st.customizations:
            self.events.emit(
                applied, type="Normal", reason="PatchApplied",
                note="applied with the user's platform.kubevirt.io/patch", action="Apply",
            )

    async def _server_apply(
        self,
        st: ObjectState,
        regarding: dict[str, Any],
        blog: Any,
        res: ResourceInfo,
        desired: dict[str, Any],
        *,
        dry_run: bool,
    ) -> dict[str, Any] | Result:
        """Forced SSA (or its dry run); a failure comes back as the pass's Result."""
        verb = "dry-run" if dry_run else "apply"
        try:
            return await self.client.apply(res, desired, force=True, dry_run=dry_run)
        except ApiError as exc:
            if _missing_namespace(exc):
                return Result(Outcome.SKIPPED)  # namespace guard, seen by the server
            return self._failed(st, regarding, blog, _api_message(exc, res), verb=verb)
        except (OSError, TimeoutError) as exc:
            return self._failed(st, regarding, blog, _describe(exc), verb=verb)

    async def _read_live(self, res: ResourceInfo, ref: ObjectRef) -> dict[str, Any] | None:
        _, obj = self.view.cached_object(res, namespace=ref.namespace, name=ref.name)
        if obj is not None:
            return obj
        # The cache holds only labelled objects: an unlabelled one is found (and then
        # adopted) through a read; a missing one is created.
        return await self.client.get(res, ref.name, namespace=ref.namespace or None)

    def _customize(
        self, st: ObjectState, desired: dict[str, Any], live: dict[str, Any] | None, blog: Any
    ) -> dict[str, Any]:
        out = customize(desired, live, kind=st.ref.kind)
        regarding = live or desired
        if out.patch_error and out.patch_text is not None:
            if st.report_once("patch", out.patch_text):
                blog.warning("invalid patch annotation", error=out.patch_error)
                self.events.emit(
                    regarding, type="Warning", reason="InvalidPatch",
                    note=_clip(out.patch_error), action="Patch",
                )
        elif out.patch_text is None:
            st.clear_report("patch")
        if out.invalid_pointers and out.ignore_text is not None:
            if st.report_once("ignore", out.ignore_text):
                blog.warning("invalid ignore-fields annotation", pointers=out.invalid_pointers)
                self.events.emit(
                    regarding, type="Warning", reason="InvalidIgnoreFields",
                    note=_clip("invalid pointer(s) skipped: " + ", ".join(out.invalid_pointers)),
                    action="IgnoreFields",
                )
        elif out.ignore_text is None:
            st.clear_report("ignore")
        self._set_customizations(st, out.active)
        return out.desired

    def _stopped(
        self, st: ObjectState, regarding: dict[str, Any], blog: Any, stop: Stop
    ) -> Result:
        if stop.kind == PAUSED:
            self._set_paused(st, True)
            self._drop_compliance(st)
            return Result(Outcome.SKIPPED)
        if stop.kind == FAILED:
            return self._failed(st, regarding, blog, stop.error, verb="pause")
        self._set_compliance(st, 0)
        return Result(Outcome.THROTTLED, retry_after=stop.retry_after)

    def _failed(
        self, st: ObjectState, regarding: dict[str, Any], blog: Any, message: str, *, verb: str
    ) -> Result:
        st.note_error(message)
        self._set_compliance(st, 0)
        blog.error("failed to apply", error=message, step=verb)
        self.events.emit(
            regarding, type="Warning", reason="ApplyFailed", note=_clip(message), action="Apply"
        )
        return Result(Outcome.FAILED, error=message)

    def _enter_unmanaged(self, st: ObjectState, live: dict[str, Any], blog: Any) -> None:
        st.unmanaged = True
        self._drop_compliance(st)
        self._set_customizations(st, frozenset({CUSTOMIZATION_UNMANAGED}))
        if st.report_once("unmanaged", "true"):
            blog.info("object is unmanaged; leaving it alone")
            self.events.emit(
                live, type="Normal", reason="UnmanagedMode",
                note=f"{overrides.MODE}=unmanaged: the autopilot no longer manages this object",
                action="Skip",
            )

    def _set_compliance(self, st: ObjectState, value: int) -> None:
        st.compliance = value
        r = st.ref
        self.metrics.set_compliance(r.kind, r.name, r.namespace, ok=value == 1)

    def _drop_compliance(self, st: ObjectState) -> None:
        st.compliance = None
        r = st.ref
        self.metrics.remove_compliance(r.kind, r.name, r.namespace)

    def _set_paused(self, st: ObjectState, paused: bool) -> None:
        st.paused = paused
        r = st.ref
        self.metrics.set_paused(r.kind, r.name, r.namespace, paused=paused)

    def _set_customizations(self, st: ObjectState, active: frozenset[str]) -> None:
        st.customizations = active
        r = st.ref
        self.metrics.set_customizations(r.kind, r.name, r.namespace, types=active)

    def forget_object(self, ref: ObjectRef) -> None:
        """Drop every series and memory of an object that is no longer managed."""
        self.metrics.remove_series(ref.kind, ref.name, ref.namespace)
        self.verdicts.invalidate(ref)
        self.edit_war.forget(ref)
        self.book.drop(ref)


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


def _clip(text: str) -> str:
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"
