"""An informer's cache side: the store its stream and listings feed, and the handlers told.

:class:`CacheFeed` keeps the selected objects of one resource (:class:`Selection`,
each reduced by its ``transform``) in a :class:`Store`, with the resourceVersion
they are at. A listing (a list, or a streaming list's initial state) replaces the
whole store and tells the handlers what changed since the last one, as
synthesised adds, updates and deletes; a watch event changes one object. Keeping
the stream alive is :class:`autopilot.kube.informer.Informer`'s business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from autopilot.kube.errors import ApiError
from autopilot.kube.kept_store import KeptStore
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.store import Key, Store, object_key

if TYPE_CHECKING:
    from autopilot.observability.metrics import Metrics

log = structlog.get_logger("autopilot.informer")

# (event type ADDED|MODIFIED|DELETED, object, previous cached object or None)
EventHandler = Callable[[str, dict[str, Any], dict[str, Any] | None], None]
Transform = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Selection:
    """Which objects of the resource an informer caches, and how it reduces each.

    ``keep``: the only (namespace, name) keys its cache holds (a watch of a whole kind
    for a few names, :class:`KeptStore`); its handlers still hear of every object.
    ``metadata_only``: the server sends each object's metadata alone
    (``PartialObjectMetadata``), typed as the resource's kind when cached.
    ``whole_keys``: the (namespace, name) keys the ``transform`` leaves as sent.
    """

    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None
    transform: Transform | None = None
    keep: frozenset[Key] | None = None
    metadata_only: bool = False
    whole_keys: frozenset[Key] = frozenset()


class CacheFeed:
    """The cache of one resource, fed by listings and watch events."""

    def __init__(self, resource: ResourceInfo, *, select: Selection | None,
                 metrics: Metrics | None, name: str | None) -> None:
        self.resource = resource
        self.select = select or Selection()
        self.metrics = metrics
        self.name = name or resource.kind
        keep = self.select.keep
        self.store = Store() if keep is None else KeptStore(keep)
        self._handlers: list[EventHandler] = []
        self._synced = asyncio.Event()
        # Where the next watch starts: the last listing's or event's resourceVersion
        # ("" after a 410 Gone: relist first).
        self.resource_version = ""
        self.relists = 0

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

    def _synced_with(self, fresh: dict[Key, dict[str, Any]], rv: str) -> None:
        """Make the cache the listed state ``fresh`` (at ``rv``), telling the handlers."""
        self.relists += 1
        if self.metrics is not None:
            self.metrics.watch_relists_total.labels(kind=self.name).inc()
        # Tell handlers what changed while we were not watching.
        for event, obj, old in _changes(self.store._replace(fresh), fresh):
            self._notify(event, obj, old)
        self.resource_version = rv
        if not self._synced.is_set():
            log.info("cache synced", kind=self.name, objects=len(self.store))
            self._synced.set()

    def _handle(self, event: dict[str, Any]) -> None:
        """Apply one watch event (an ERROR event raises its :class:`ApiError`)."""
        kind = str(event.get("type") or "")
        obj = event.get("object")
        if not isinstance(obj, dict):
            return
        if kind == "ERROR":
            raise ApiError.from_status(obj)
        new_rv = _rv(obj) or self.resource_version
        if kind == "BOOKMARK":
            self.resource_version = new_rv
            return
        obj = self._complete(obj)
        key = object_key(obj)
        if kind in ("ADDED", "MODIFIED"):
            old = self.store._put(key, obj)
            self._notify("ADDED" if old is None else "MODIFIED", obj, old)
        elif kind == "DELETED":
            old = self.store._pop(key)
            self._notify("DELETED", obj, old)
        self.resource_version = new_rv

    def _complete(self, obj: dict[str, Any]) -> dict[str, Any]:
        """An object as the cache keeps it: typed (list items lack it), then transformed."""
        if self.select.metadata_only:  # typed PartialObjectMetadata: name the real kind
            obj["apiVersion"], obj["kind"] = self.resource.api_version, self.resource.kind
        obj.setdefault("apiVersion", self.resource.api_version)
        obj.setdefault("kind", self.resource.kind)
        transform = self.select.transform
        if transform is None or (self.select.whole_keys and object_key(obj)
                                 in self.select.whole_keys):
            return obj
        try:
            return transform(obj)
        except Exception as exc:  # a bad object must not kill the watch
            log.warning("transform failed; caching as is", kind=self.name, error=str(exc))
            return obj

    def _notify(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for handler in list(self._handlers):
            try:
                handler(event, obj, old)
            except Exception as exc:
                log.error("event handler failed", kind=self.name, event_type=event,
                          error=f"{type(exc).__name__}: {exc}")


def _rv(obj: dict[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")


def _changes(
    old: dict[Key, dict[str, Any]], fresh: dict[Key, dict[str, Any]]
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """The events that turn the cache ``old`` into the listing ``fresh``."""
    for key, obj in old.items():
        if key not in fresh:
            yield "DELETED", obj, obj
    for key, obj in fresh.items():
        prev = old.get(key)
        if prev is None:
            yield "ADDED", obj, None
        elif _rv(prev) != _rv(obj):
            yield "MODIFIED", obj, prev
