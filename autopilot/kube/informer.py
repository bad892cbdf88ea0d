"""Informers on raw watch streams: list, watch, cache, and tell handlers every change.

One informer keeps an in-memory :class:`Store` of one resource (optionally
label/field-selected and reduced by a ``transform``) equal to the server's
state. Its loop: get the current state with one streaming list (a watch whose
first events are that state, :mod:`autopilot.kube.watchlist`) and follow the same
stream, or, from a server that cannot stream lists, list and then watch from the
list's resourceVersion; watches ask for bookmarks and a jittered server timeout;
re-open the watch when the server ends it; relist on 410 Gone; treat a stream
silent for ``inactivity_timeout`` as dead; back off exponentially (with jitter)
on errors, resetting after a healthy stream. After a relist the handlers see
synthesised deletes and updates, so they never miss a change that happened
while the stream was down.

A ``Retry-After`` is honoured, with one exception. While the API server fills
the watch cache of a resource (on the first request for a custom resource since
it started, and when it rebuilds the cache) it answers ``429 storage is
(re)initializing`` with ``Retry-After: 1``: one second is the smallest hint the
header can give, not a measure of load, and a cache of a few objects fills in
milliseconds. For that answer alone the informer polls sooner, 50 ms doubling up
to the server's hint (at most four extra requests, each refused before it
reaches etcd), then falls back to the hint and its usual backoff. Every other
429 (API Priority and Fairness shedding load) waits the full Retry-After.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog

from autopilot.kube.cachefeed import CacheFeed, EventHandler, Selection, Transform
from autopilot.kube.client import ApiError, ApiUnreachable, KubeClient
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.store import (
    STORAGE_INITIALIZING,
    Backoff,
    Key,
    RetryDelay,
    Store,
    object_key,
    storage_initializing,
)
from autopilot.kube.verbs import METADATA_LIST, METADATA_WATCH
from autopilot.kube.watchlist import (
    EndBookmarkMissing,
    initial_state,
    refuses_streaming_lists,
    streaming_list_query,
)

if TYPE_CHECKING:
    from autopilot.observability.metrics import Metrics

log = structlog.get_logger("autopilot.informer")

__all__ = ["STORAGE_INITIALIZING", "EventHandler", "Informer", "Selection", "Store",
           "Transform", "WatchSettings", "object_key", "storage_initializing"]

_STREAM_ERRORS = (
    ApiUnreachable,
    aiohttp.ClientError,  # payload/connection/server-disconnected errors
    TimeoutError,
    ConnectionError,
    OSError,
)


@dataclass(frozen=True)
class WatchSettings:
    """Timeouts, paging and backoff of an informer's list-watch loop."""

    inactivity_timeout: float = 70.0  # a stream silent this long is dead
    watch_timeout: tuple[int, int] = (300, 600)  # the server ends a watch within this (s)
    backoff_initial: float = 0.8
    backoff_max: float = 30.0
    healthy_after: float = 5.0  # a stream that lived this long resets the backoff
    page_size: int = 500
    list_timeout: float = 60.0  # also bounds the wait for a streaming list's end
    streaming_lists: bool = True  # start with one streaming list (watch-list) when served


class Informer(CacheFeed):
    """List-watch cache of one resource. Run it with ``await informer.run()``."""

    def __init__(
        self,
        client: KubeClient,
        resource: ResourceInfo,
        *,
        select: Selection | None = None,
        settings: WatchSettings | None = None,
        metrics: Metrics | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(resource, select=select, metrics=metrics, name=name)
        self.client = client
        self.settings = settings = settings or WatchSettings()
        self._retry = RetryDelay(Backoff(settings.backoff_initial, settings.backoff_max))
        self.last_activity = time.monotonic()
        self.beat: Callable[[], None] | None = None
        self.restarts = 0
        self._stream_events = 0
        self._stream_started = time.monotonic()
        self.last_error: str | None = None  # why the last attempt failed; None once listed
        # Whether the next relist is a streaming list; off for good once the server
        # refused one or ignored its parameters.
        self.streaming_lists = settings.streaming_lists

    @property
    def max_quiet(self) -> float:
        """Longest the loop can go without a heartbeat while healthy."""
        s = self.settings
        return s.inactivity_timeout + self._retry.backoff.cap * 1.25 + s.list_timeout + 30.0

    def _alive(self) -> None:
        self.last_activity = time.monotonic()
        if self.beat is not None:
            self.beat()

    async def run(self) -> None:
        """List and watch until cancelled. Never returns otherwise."""
        while True:
            self._alive()
            self._stream_events = 0
            self._stream_started = time.monotonic()
            reason: str | None = None
            error: ApiError | None = None
            streaming = self.streaming_lists and not self.resource_version
            try:
                if not self.resource_version and not streaming:
                    await self._relist()
                self._stream_started = time.monotonic()
                await self._watch(streaming=streaming)
                why = "stream ended"
            except EndBookmarkMissing as exc:
                self._stop_streaming_lists(str(exc))
                continue
            except ApiError as exc:
                if exc.status == 410:
                    self.resource_version, why = "", "410 Gone"
                elif streaming and refuses_streaming_lists(exc):
                    self._stop_streaming_lists(str(exc))
                    continue
                else:
                    why = reason = f"{exc.status} {exc.reason}: {exc.message}"
                    error = exc
            except _STREAM_ERRORS as exc:
                why = reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # unexpected data must not end the watch for good
                why = reason = f"unexpected {type(exc).__name__}: {exc}"
                log.error("watch loop error", kind=self.name, error=reason, exc_info=True)
            healthy = (
                self._stream_events > 0
                or time.monotonic() - self._stream_started >= self.settings.healthy_after
            )
            if healthy:
                self._retry.reset()
            self._restarted(why)
            self.last_error = reason or self.last_error
            if healthy and reason is None:
                continue  # a normal end (server timeout) or 410 after a good stream
            delay = self._retry_delay(error)
            _log_retry(self.name, error=error, reason=reason, why=why, delay=delay)
            self._alive()
            await asyncio.sleep(delay)

    def _retry_delay(self, error: ApiError | None) -> float:
        """Seconds before the next attempt: backoff, or longer when the server asks."""
        return self._retry.next(error)

    @property
    def last_retry_delay(self) -> float | None:
        """The delay before the latest retry (None: no retry yet)."""
        return self._retry.last

    def _restarted(self, why: str) -> None:
        self.restarts += 1
        if self.metrics is not None:
            self.metrics.watch_restarts_total.labels(kind=self.name).inc()
        log.debug("watch restarting", kind=self.name, why=why)

    def _stop_streaming_lists(self, why: str) -> None:
        self.streaming_lists = False
        log.info("streaming lists not served; listing, then watching", kind=self.name,
                 reason=why)

    async def _relist(self) -> None:
        select = self.select
        items, rv = await self.client.list(
            self.resource,
            namespace=select.namespace,
            label_selector=select.label_selector,
            field_selector=select.field_selector,
            limit=self.settings.page_size,
            timeout=self.settings.list_timeout,
            transform=self._complete,
            accept=METADATA_LIST if select.metadata_only else None,
        )
        self._synced_with({object_key(obj): obj for obj in items}, rv)

    def _synced_with(self, fresh: dict[Key, dict[str, Any]], rv: str) -> None:
        super()._synced_with(fresh, rv)
        self.last_error = None
        self._alive()

    async def _watch(self, *, streaming: bool = False) -> None:
        """Follow one watch stream from :attr:`resource_version`, advancing it.

        ``streaming``: a streaming list, whose first events are the current state; the
        cache becomes that state at its end, and the same stream goes on as the watch.
        """
        select = self.select
        timeout = random.randint(*self.settings.watch_timeout)
        query = streaming_list_query(
            label_selector=select.label_selector, field_selector=select.field_selector,
            timeout_seconds=timeout) if streaming else {
            "resourceVersion": self.resource_version,
            "allowWatchBookmarks": True,
            "timeoutSeconds": timeout,
            "labelSelector": select.label_selector,
            "fieldSelector": select.field_selector,
        }
        path = self.resource.path(namespace=select.namespace)
        async with self.client.watch_stream(
            path, query=query, read_timeout=self.settings.inactivity_timeout,
            accept=METADATA_WATCH if select.metadata_only else None,
        ) as events:
            self._alive()
            if streaming:
                state = await initial_state(events, within=self.settings.list_timeout,
                                            complete=self._complete, seen=self._event_seen)
                if state is None:
                    return  # the stream ended before the state did: the cache is as it was
                self._synced_with(*state)
            async for event in events:
                self._event_seen()
                self._handle(event)

    def _event_seen(self) -> None:
        self._alive()
        self._stream_events += 1


def _log_retry(kind: str, *, error: ApiError | None, reason: str | None, why: str,
               delay: float) -> None:
    if error is not None and storage_initializing(error):
        # Expected once per custom resource after the server starts: no warning.
        log.info("watch cache filling; retrying", kind=kind, reason=reason,
                 retry_in=round(delay, 2))
    elif reason is not None:
        log.warning("watch failed; retrying", kind=kind, reason=reason, retry_in=round(delay, 2))
    else:
        log.info("watch ended early; retrying", kind=kind, why=why, retry_in=round(delay, 2))
