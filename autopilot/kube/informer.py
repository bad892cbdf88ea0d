"""Informers on raw watch streams: list, watch, cache, and tell handlers every change.

One informer keeps an in-memory :class:`Store` of one resource (optionally
label/field-selected and reduced by a ``transform``) equal to the server's
state. Its loop: list; watch from the list's resourceVersion with bookmarks and
a jittered server timeout; re-open the watch when the server ends it; relist on
410 Gone; treat a stream silent for ``inactivity_timeout`` as dead; back off
exponentially (with jitter) on errors, resetting after a healthy stream. After
a relist the handlers see synthesised deletes and updates, so they never miss
a change that happened while the stream was down.

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
import builtins
import random
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog

from autopilot.kube.client import ApiError, ApiUnreachable, KubeClient
from autopilot.kube.resources import ResourceInfo

if TYPE_CHECKING:
    from autopilot.observability.metrics import Metrics

log = structlog.get_logger("autopilot.informer")

# (event type ADDED|MODIFIED|DELETED, object, previous cached object or None)
EventHandler = Callable[[str, dict[str, Any], dict[str, Any] | None], None]
Transform = Callable[[dict[str, Any]], dict[str, Any]]
Key = tuple[str, str]  # (namespace or "", name)

_STREAM_ERRORS = (
    ApiUnreachable,
    aiohttp.ClientError,  # payload/connection/server-disconnected errors
    TimeoutError,
    ConnectionError,
    OSError,
)


# The 429 of a watch cache still filling (see the module docstring).
STORAGE_INITIALIZING = "storage is (re)initializing"
_WARMING_FIRST_POLL = 0.05
_WARMING_POLLS = 4


class _Gone(Exception):
    """The watch's resourceVersion is too old: relist."""


def storage_initializing(exc: ApiError) -> bool:
    """Whether ``exc`` is the server's 429 for a watch cache that is still filling."""
    return exc.status == 429 and STORAGE_INITIALIZING in exc.message


def object_key(obj: dict[str, Any]) -> Key:
    """(namespace, name) of an object dict."""
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _rv(obj: dict[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")


class Store:
    """The cache: objects by (namespace, name). Reads never block."""

    def __init__(self) -> None:
        self._items: dict[Key, dict[str, Any]] = {}

    def get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The cached object, or None."""
        return self._items.get((namespace or "", name))

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """All cached objects (of one namespace when given)."""
        if namespace is None:
            return list(self._items.values())
        return [o for (ns, _), o in self._items.items() if ns == namespace]

    def keys(self) -> builtins.list[Key]:
        """(namespace, name) of every cached object."""
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._items.values()))

    def _put(self, key: Key, obj: dict[str, Any]) -> dict[str, Any] | None:
        old = self._items.get(key)
        self._items[key] = obj
        return old

    def _pop(self, key: Key) -> dict[str, Any] | None:
        return self._items.pop(key, None)

    def _replace(self, items: dict[Key, dict[str, Any]]) -> dict[Key, dict[str, Any]]:
        old = self._items
        self._items = items
        return old


class Backoff:
    """Exponential delay with jitter: initial, doubling, capped."""

    def __init__(self, initial: float = 0.8, cap: float = 30.0, jitter: float = 0.2) -> None:
        self.initial = initial
        self.cap = cap
        self.jitter = jitter
        self._next = initial

    def next(self) -> float:
        """The next delay (and doubles the one after)."""
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        return delay * (1 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        """Back to the initial delay."""
        self._next = self.initial


class Informer:
    """List-watch cache of one resource. Run it with ``await informer.run()``."""

    def __init__(
        self,
        client: KubeClient,
        resource: ResourceInfo,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        transform: Transform | None = None,
        metrics: Metrics | None = None,
        name: str | None = None,
        inactivity_timeout: float = 70.0,
        watch_timeout: tuple[int, int] = (300, 600),
        backoff_initial: float = 0.8,
        backoff_max: float = 30.0,
        healthy_after: float = 5.0,
        page_size: int = 500,
        list_timeout: float = 60.0,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.transform = transform
        self.metrics = metrics
        self.name = name or resource.kind
        self.inactivity_timeout = inactivity_timeout
        self.watch_timeout = watch_timeout
        self.healthy_after = healthy_after
        self.page_size = page_size
        self.list_timeout = list_timeout
        self.store = Store()
        self._handlers: list[EventHandler] = []
        self._backoff = Backoff(backoff_initial, backoff_max)
        self._synced = asyncio.Event()
        self.last_activity = time.monotonic()
        self.beat: Callable[[], None] | None = None
        self.resource_version = ""
        self.relists = 0
        self.restarts = 0
        self._stream_events = 0
        self._stream_started = time.monotonic()
        self._warming_polls = 0
        self.last_retry_delay: float | None = None
        self.last_error: str | None = None  # why the last attempt failed; None once listed

    # -- consumer side ----------------------------------------------------------------

    def add_handler(self, handler: EventHandler) -> None:
        """Call ``handler(event, obj, old)`` on every add, update and delete."""
        self._handlers.append(handler)

    @property
    def has_synced(self) -> bool:
        """Whether the first list completed."""
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> bool:
        """Wait for the first list; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    @property
    def max_quiet(self) -> float:
        """Longest the loop can go without a heartbeat while healthy."""
        return self.inactivity_timeout + self._backoff.cap * 1.25 + self.list_timeout + 30.0

    # -- loop ---------------------------------------------------------------------------

    def _alive(self) -> None:
        self.last_activity = time.monotonic()
        if self.beat is not None:
            self.beat()

    async def run(self) -> None:
        """List and watch until cancelled. Never returns otherwise."""
        rv = ""
        while True:
            self._alive()
            self._stream_events = 0
            self._stream_started = time.monotonic()
            reason: str | None = None
            error: ApiError | None = None
            try:
                if not rv:
                    rv = await self._relist()
                self._stream_started = time.monotonic()
                rv = await self._watch(rv)
                why = "stream ended"
            except _Gone:
                rv, why = "", "410 Gone"
            except ApiError as exc:
                if exc.status == 410:
                    rv, why = "", "410 Gone"
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
                or time.monotonic() - self._stream_started >= self.healthy_after
            )
            if healthy:
                self._backoff.reset()
                self._warming_polls = 0
            self._restarted(why)
            self.last_error = reason or self.last_error
            if healthy and reason is None:
                continue  # a normal end (server timeout) or 410 after a good stream
            delay = self._retry_delay(error)
            if error is not None and storage_initializing(error):
                # Expected once per custom resource after the server starts: no warning.
                log.info("watch cache filling; retrying", kind=self.name, reason=reason,
                         retry_in=round(delay, 2))
            elif reason is not None:
                log.warning("watch failed; retrying", kind=self.name, reason=reason,
                            retry_in=round(delay, 2))
            else:
                log.info("watch ended early; retrying", kind=self.name, why=why,
                         retry_in=round(delay, 2))
            self._alive()
            await asyncio.sleep(delay)

    def _retry_delay(self, error: ApiError | None) -> float:
        """Seconds before the next attempt: backoff, or longer when the server asks."""
        retry_after = (error.retry_after or 0.0) if error is not None else 0.0
        if (error is not None and storage_initializing(error)
                and self._warming_polls < _WARMING_POLLS):
            poll = _WARMING_FIRST_POLL * 2.0**self._warming_polls
            self._warming_polls += 1
            delay = min(poll, retry_after) if retry_after else poll
        else:
            delay = max(self._backoff.next(), min(retry_after, self._backoff.cap))
        self.last_retry_delay = delay
        return delay

    def _restarted(self, why: str) -> None:
        self.restarts += 1
        if self.metrics is not None:
            self.metrics.watch_restarts_total.labels(kind=self.name).inc()
        log.debug("watch restarting", kind=self.name, why=why)

    async def _relist(self) -> str:
        items, rv = await self.client.list(
            self.resource,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            limit=self.page_size,
            timeout=self.list_timeout,
            transform=self._prepare,
        )
        self.relists += 1
        if self.metrics is not None:
            self.metrics.watch_relists_total.labels(kind=self.name).inc()
        fresh: dict[Key, dict[str, Any]] = {}
        for obj in items:
            fresh[object_key(obj)] = obj
        old = self.store._replace(fresh)
        # Tell handlers what changed while we were not watching.
        for key, obj in old.items():
            if key not in fresh:
                self._notify("DELETED", obj, obj)
        for key, obj in fresh.items():
            prev = old.get(key)
            if prev is None:
                self._notify("ADDED", obj, None)
            elif _rv(prev) != _rv(obj):
                self._notify("MODIFIED", obj, prev)
        self.resource_version, self.last_error = rv, None
        if not self._synced.is_set():
            log.info("cache synced", kind=self.name, objects=len(fresh))
            self._synced.set()
        self._alive()
        return rv

    async def _watch(self, rv: str) -> str:
        """Follow one watch stream; returns the last resourceVersion seen."""
        query: dict[str, str | int | bool | None] = {
            "resourceVersion": rv,
            "allowWatchBookmarks": True,
            "timeoutSeconds": random.randint(*self.watch_timeout),
            "labelSelector": self.label_selector,
            "fieldSelector": self.field_selector,
        }
        path = self.resource.path(namespace=self.namespace)
        async with self.client.watch_stream(
            path, query=query, read_timeout=self.inactivity_timeout
        ) as events:
            self._alive()
            async for event in events:
                self._alive()
                self._stream_events += 1
                rv = self._handle(event, rv)
        return rv

    def _handle(self, event: dict[str, Any], rv: str) -> str:
        kind = str(event.get("type") or "")
        obj = event.get("object")
        if not isinstance(obj, dict):
            return rv
        if kind == "ERROR":
            code = int(obj.get("code") or 0)
            if code == 410:
                raise _Gone
            raise ApiError(code or 500, str(obj.get("reason") or "Error"),
                           str(obj.get("message") or "watch error"), obj)
        new_rv = _rv(obj) or rv
        if kind == "BOOKMARK":
            self.resource_version = new_rv
            return new_rv
        obj.setdefault("apiVersion", self.resource.api_version)
        obj.setdefault("kind", self.resource.kind)
        obj = self._prepare(obj)
        key = object_key(obj)
        if kind in ("ADDED", "MODIFIED"):
            old = self.store._put(key, obj)
            self._notify("ADDED" if old is None else "MODIFIED", obj, old)
        elif kind == "DELETED":
            old = self.store._pop(key)
            self._notify("DELETED", obj, old)
        self.resource_version = new_rv
        return new_rv

    def _prepare(self, obj: dict[str, Any]) -> dict[str, Any]:
        if self.transform is None:
            return obj
        try:
            return self.transform(obj)
        except Exception as exc:  # a bad object must not kill the watch
            log.warning("transform failed; caching as is", kind=self.name, error=str(exc))
            return obj

    def _notify(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for handler in list(self._handlers):
            try:
                handler(event, obj, old)
            except Exception as exc:
                log.error(
                    "event handler failed",
                    kind=self.name,
                    event_type=event,
                    error=f"{type(exc).__name__}: {exc}",
                )
