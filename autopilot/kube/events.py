"""Kubernetes events (events.k8s.io/v1) that can never flood the API server.

``emit`` never blocks the caller: events go to a bounded in-memory queue that a
background task sends. While the controller is busy (``defer``: its work queue not
quiet) an event waits, at most ``defer_at_most`` seconds after it was emitted: a
burst of applies (the start's) ends sooner when the API server's CPU is not also
taken by the events that report them. Warnings never wait and go ahead of every
queued Normal event. Repeats of the same event (same object, type, reason,
action and note) fold into the first event's ``series`` (count and last
observed time), written at most once per ``series_interval``. Each regarded
object also has a token bucket, so a loop producing ever-new notes is capped.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from autopilot import FIELD_MANAGER
from autopilot.kube.client import ApiError, KubeClient, micro_time
from autopilot.kube.resources import ResourceInfo

log = structlog.get_logger("autopilot.events")

EVENTS = ResourceInfo("events.k8s.io", "v1", "Event", "events", True)
NOTE_LIMIT = 1024
_ERRORS = (ApiError, ConnectionError, TimeoutError, OSError)


class EventSink(Protocol):
    """Records Kubernetes events without blocking the caller (what every writer of
    events needs of :class:`EventRecorder`)."""

    def emit(
        self, regarding: dict[str, Any], *, type: str, reason: str, note: str, action: str
    ) -> None:
        """Queue one event about ``regarding`` (an object or a minimal reference)."""


@dataclass
class _Series:
    name: str
    namespace: str
    count: int = 1
    sent_count: int = 1
    last_seen: float = field(default_factory=time.monotonic)
    last_sent: float = field(default_factory=time.monotonic)
    # Wall-clock time of the latest occurrence: the series' lastObservedTime.
    last_observed: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class _Pending:
    """One emitted event waiting to be sent; ``at``: wall-clock time of the occurrence.
    Queued as ``(rank, sequence, event)``: warnings (rank 0) before Normal events, each
    in emission order."""

    regarding: dict[str, Any]
    type: str
    reason: str
    note: str
    action: str
    at: float


@dataclass
class _Bucket:
    tokens: float
    updated: float


class EventRecorder:
    """Records events for one controller instance. Start ``run()`` as a task."""

    def __init__(
        self,
        client: KubeClient,
        *,
        instance: str,
        controller: str = FIELD_MANAGER,
        series_window: float = 600.0,
        series_interval: float = 30.0,
        burst: int = 25,
        refill_every: float = 10.0,
        max_pending: int = 1000,
        timeout: float = 10.0,
        silent: bool = False,
        defer: Callable[[], Awaitable[None]] | None = None,
        defer_at_most: float = 2.0,
    ) -> None:
        self.client = client
        self.silent = silent  # drop every event (a controller that must write nothing)
        self.instance = instance
        self.controller = controller
        self.series_window = series_window
        self.series_interval = series_interval
        self.burst = burst
        self.refill_every = refill_every
        self.timeout = timeout
        self.defer = defer
        self.defer_at_most = defer_at_most
        self._pending: asyncio.PriorityQueue[tuple[int, int, _Pending]] = (
            asyncio.PriorityQueue(max_pending))
        self._sequence = itertools.count()
        self._series: dict[tuple[Any, ...], _Series] = {}
        # The series counted again since their last write: the only ones a flush reads
        # (a scan of every series after each event cost more than the event).
        self._unsent: dict[tuple[Any, ...], _Series] = {}
        # When the first of them is due (monotonic): a flush before it reads none.
        self._due_at = float("inf")
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        # Set by a warning's emit: a Normal event waiting for the work in hand stops
        # waiting, so the warning behind it goes now (a controller stopped during an edit
        # war must not take its ThrashingDetected with it).
        self._warning_emitted = asyncio.Event()
        self.dropped = 0
        self.sent = 0

    def emit(
        self, regarding: dict[str, Any], *, type: str, reason: str, note: str, action: str
    ) -> None:
        """Queue one event about ``regarding`` (an object or a minimal reference)."""
        if self.silent:
            return
        warning = type == "Warning"
        event = _Pending(regarding, type, reason, note[:NOTE_LIMIT], action, time.time())
        try:
            self._pending.put_nowait((0 if warning else 1, next(self._sequence), event))
        except asyncio.QueueFull:
            self.dropped += 1
            return
        if warning:
            self._warning_emitted.set()

    async def run(self) -> None:
        """Send queued events until cancelled; then flush pending series counts."""
        try:
            while True:
                try:
                    # asyncio.timeout: wait_for (3.11) can swallow this task's cancellation.
                    async with asyncio.timeout(self.series_interval):
                        _, _, item = await self._pending.get()
                except TimeoutError:
                    item = None
                if item is not None:
                    if item.type != "Warning":
                        await self._after_work(emitted=item.at)
                    await self._record(item)
                await self._flush_series(force=False)
        finally:
            self._series.clear()
            self._unsent.clear()

    async def drain(self, timeout: float = 2.0) -> None:
        """Send what is queued now (used at shutdown and in tests)."""
        deadline = time.monotonic() + timeout
        while not self._pending.empty() and time.monotonic() < deadline:
            _, _, item = self._pending.get_nowait()
            await self._record(item)
        await self._flush_series(force=True)

    # -- internals ----------------------------------------------------------------------

    async def _after_work(self, *, emitted: float) -> None:
        """Before a Normal event: wait for ``defer``, no later than ``defer_at_most`` after
        ``emitted``, and only until a warning is emitted (the warning then goes next, ahead
        of every Normal event still queued)."""
        # No warning is queued now: the queue hands out warnings first.
        self._warning_emitted.clear()
        if self.defer is None:
            return
        left = emitted + self.defer_at_most - time.time()
        if left <= 0:
            return
        waits = [asyncio.ensure_future(self.defer()),
                 asyncio.ensure_future(self._warning_emitted.wait())]
        try:
            await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def _allow(self, ref: dict[str, Any]) -> bool:
        key = (str(ref.get("kind")), str(ref.get("namespace", "")), str(ref.get("name")))
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst),
                            bucket.tokens + (now - bucket.updated) / self.refill_every)
        bucket.updated = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    async def _record(self, event: _Pending) -> None:
        regarding, type_, reason, note, action, at = (
            event.regarding, event.type, event.reason, event.note, event.action, event.at)
        ref = _reference(regarding)
        key = (ref.get("kind"), ref.get("namespace"), ref.get("name"), type_, reason, action, note)
        now = time.monotonic()
        series = self._series.get(key)
        if series is not None and now - series.last_seen < self.series_window:
            series.count += 1
            series.last_seen = now
            self._unsent[key] = series
            self._due_at = min(self._due_at, series.last_sent + self.series_interval)
            series.last_observed = max(series.last_observed, at)
            return
        if not self._allow(ref):
            self.dropped += 1
            return
        namespace = str(ref.get("namespace") or "default")
        name = f"{ref['name'] or 'object'}.{time.time_ns():x}"[-253:].lstrip(".-")
        body = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "eventTime": micro_time(_wall(at)),
            "reportingController": self.controller,
            "reportingInstance": self.instance,
            "action": action,
            "reason": reason,
            "note": note,
            "type": type_,
            "regarding": ref,
        }
        try:
            created = await self.client.request(
                "POST", EVENTS.path(namespace=namespace), body=body, timeout=self.timeout
            )
        except _ERRORS as exc:
            log.debug("event not recorded", reason=reason, error=str(exc))
            return
        self.sent += 1
        name = str((created.get("metadata") or {}).get("name") or name)
        self._series[key] = _Series(name, namespace, last_observed=at)
        if len(self._series) > 5000:  # forget the oldest series
            for old in sorted(self._series, key=lambda k: self._series[k].last_seen)[:1000]:
                self._series.pop(old, None)

    async def _flush_series(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now < self._due_at:
            return
        self._due_at = float("inf")
        for key, series in list(self._unsent.items()):
            if not force and now - series.last_sent < self.series_interval:
                self._due_at = min(self._due_at, series.last_sent + self.series_interval)
                continue
            del self._unsent[key]
            # The time of the last occurrence, not of this write (which may be much later).
            observed = micro_time(_wall(series.last_observed))
            patch = {"series": {"count": series.count, "lastObservedTime": observed}}
            try:
                await self.client.patch(
                    EVENTS, series.name, patch, namespace=series.namespace, patch_type="merge"
                )
            except _ERRORS as exc:
                log.debug("event series not updated", error=str(exc))
            series.sent_count = series.count
            series.last_sent = now


def _reference(regarding: dict[str, Any]) -> dict[str, Any]:
    """The ``regarding`` reference of an event about ``regarding`` (an object or a
    minimal reference)."""
    meta = regarding.get("metadata") or {}
    ref: dict[str, Any] = {
        "apiVersion": regarding.get("apiVersion", ""),
        "kind": regarding.get("kind", ""),
        "name": meta.get("name") or regarding.get("name", ""),
    }
    ns = meta.get("namespace") or regarding.get("namespace")
    if ns:
        ref["namespace"] = ns
    uid = meta.get("uid") or regarding.get("uid")
    if uid:
        ref["uid"] = uid
    return ref


def _wall(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
