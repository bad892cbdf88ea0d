"""Objects, the global resourceVersion, the event history and watch fan-out.

Everything here runs on the server's event loop; nothing awaits, so a write and
its fan-out to every watcher happen atomically. Stored objects are never
mutated in place (a write stores a new dict), so watchers and list responses can
share references without copying.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kubesim.errors import SimError
from kubesim.selectors import Matcher

Key = tuple[str, str]
Obj = dict[str, Any]
# A queued watch item: (event type, object); None closes the stream.
WatchItem = tuple[str, Obj] | None
# The queued item ending a streaming list's initial state (its object: the state's
# resourceVersion in metadata); the stream writes it as the annotated BOOKMARK.
INITIAL_EVENTS_END = "__initial_events_end__"


@dataclass
class Change:
    """One committed write, as kept in the history for watch replays."""

    rv: int
    key: Key
    type: str  # ADDED | MODIFIED | DELETED
    obj: Obj
    old: Obj | None


@dataclass(eq=False)
class Watcher:
    """One open watch stream: its filter and the queue its writer drains."""

    key: Key
    namespace: str
    matcher: Matcher | None
    queue: asyncio.Queue[WatchItem] = field(default_factory=asyncio.Queue)
    silent: bool = False

    def _passes(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        if self.namespace and (obj.get("metadata") or {}).get("namespace") != self.namespace:
            return False
        return self.matcher is None or self.matcher(obj)

    def offer(self, change: Change) -> None:
        """Queue the event this watcher sees for ``change`` (objects leaving it are DELETED)."""
        new_ok = change.type != "DELETED" and self._passes(change.obj)
        old_ok = self._passes(change.old if change.type != "DELETED" else change.obj)
        if change.type == "ADDED":
            old_ok = False
        if new_ok and old_ok:
            self.queue.put_nowait(("MODIFIED", change.obj))
        elif new_ok:
            self.queue.put_nowait(("ADDED", change.obj))
        elif old_ok:
            if change.type == "DELETED":
                self.queue.put_nowait(("DELETED", change.obj))
            else:
                # Like the watch cache: the previous state, stamped with the new revision.
                assert change.old is not None
                prev = {**change.old, "metadata": {**change.old["metadata"],
                                                   "resourceVersion": str(change.rv)}}
                self.queue.put_nowait(("DELETED", prev))


class Store:
    """All objects of all resources plus the change history."""

    def __init__(self, *, window: int = 10_000) -> None:
        self.rv = 0
        self.window = window
        self.compacted_rv = 0
        self._objects: dict[Key, dict[str, dict[str, Obj]]] = {}
        self._history: deque[Change] = deque()
        self._watchers: dict[Key, set[Watcher]] = {}

    # -- reads ----------------------------------------------------------------------------

    def get(self, key: Key, namespace: str, name: str) -> Obj | None:
        """One object or None."""
        return self._objects.get(key, {}).get(namespace, {}).get(name)

    def iter(self, key: Key, namespace: str = "") -> Iterator[Obj]:
        """Objects in storage-key order (namespace, then name); all namespaces when ``""``."""
        spaces = self._objects.get(key, {})
        names = [namespace] if namespace else sorted(spaces)
        for ns in names:
            bucket = spaces.get(ns, {})
            for name in sorted(bucket):
                yield bucket[name]

    def count(self, key: Key) -> int:
        """Number of stored objects of one resource."""
        return sum(len(b) for b in self._objects.get(key, {}).values())

    def namespace_has_objects(self, namespace: str) -> bool:
        """Whether any namespaced object lives in ``namespace``."""
        return any(self._objects[k].get(namespace) for k in self._objects)

    # -- writes ---------------------------------------------------------------------------

    def commit(self, key: Key, obj: Obj, *, change: str, old: Obj | None = None) -> Obj:
        """Store (or, for ``DELETED``, remove) ``obj`` at a new resourceVersion."""
        self.rv += 1
        meta = dict(obj.get("metadata") or {})
        meta["resourceVersion"] = str(self.rv)
        stored = {**obj, "metadata": meta}
        ns, name = meta.get("namespace") or "", meta["name"]
        spaces = self._objects.setdefault(key, {})
        if change == "DELETED":
            bucket = spaces.get(ns, {})
            bucket.pop(name, None)
            if not bucket:
                spaces.pop(ns, None)
        else:
            spaces.setdefault(ns, {})[name] = stored
        record = Change(self.rv, key, change, stored, old)
        self._history.append(record)
        self._trim()
        for w in list(self._watchers.get(key, ())):
            w.offer(record)
        return stored

    def drop_resource(self, key: Key) -> list[Obj]:
        """Delete every object of a resource (its CRD went away); returns them."""
        gone = list(self.iter(key))
        for obj in gone:
            self.commit(key, obj, change="DELETED", old=obj)
        self._objects.pop(key, None)
        return gone

    # -- watch ----------------------------------------------------------------------------

    def set_window(self, events: int) -> None:
        """Keep at most the last ``events`` changes (at least one) for watch replays."""
        self.window = max(1, events)
        self._trim()

    def _trim(self) -> None:
        while len(self._history) > self.window:
            self.compacted_rv = self._history.popleft().rv

    def compact_to(self, mark: int) -> None:
        """Forget the changes up to ``mark``: watches from before it now answer 410."""
        while self._history and self._history[0].rv <= mark:
            self._history.popleft()
        self.compacted_rv = max(self.compacted_rv, mark)

    def compact(self) -> None:
        """Forget the whole history: every older resourceVersion now answers 410."""
        self._history.clear()
        self.compacted_rv = self.rv

    def open_watch(
        self, key: Key, *, namespace: str, matcher: Matcher | None, since: int | None,
        end_initial: bool = False,
    ) -> Watcher:
        """Register a watcher; pre-fill its queue (replay from ``since`` or initial ADDED).

        ``end_initial``: the initial ADDED events are a streaming list's, followed by
        the item that ends them (:data:`INITIAL_EVENTS_END`).
        """
        watcher = Watcher(key, namespace, matcher)
        if since is None:
            for obj in self.iter(key, namespace):
                if matcher is None or matcher(obj):
                    watcher.queue.put_nowait(("ADDED", obj))
            if end_initial:
                watcher.queue.put_nowait(
                    (INITIAL_EVENTS_END, {"metadata": {"resourceVersion": str(self.rv)}}))
        else:
            if since < self.compacted_rv:
                oldest = self.compacted_rv + 1
                raise SimError(410, f"too old resource version: {since} ({oldest})",
                               reason="Expired")
            for record in self._history:
                if record.rv > since and record.key == key:
                    watcher.offer(record)
        self._watchers.setdefault(key, set()).add(watcher)
        return watcher

    def close_watch(self, watcher: Watcher) -> None:
        """Unregister a watcher."""
        self._watchers.get(watcher.key, set()).discard(watcher)

    def watchers(self, key: Key | None = None) -> list[Watcher]:
        """Open watchers (of one resource or all)."""
        if key is not None:
            return list(self._watchers.get(key, ()))
        return [w for ws in self._watchers.values() for w in ws]
