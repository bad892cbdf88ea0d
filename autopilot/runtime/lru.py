"""A bounded map of per-object state: the least recently used entries go first.

Memory per managed object must stay bounded however many objects come and go, so
every per-object memory of the controller (baselines, drift verdicts, token buckets,
edit-war evidence) keeps its entries here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruMap(Generic[K, V]):
    """Values by key; beyond ``max_entries`` the least recently used are dropped.

    A use is a :meth:`put` or a :meth:`get` that finds the key; :meth:`peek` reads
    without using.
    """

    def __init__(self, max_entries: int) -> None:
        self._max = max(1, max_entries)
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value of ``key`` (now the most recently used), or None."""
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def peek(self, key: K) -> V | None:
        """The value of ``key``, or None, leaving the order as it is."""
        return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key`` as the most recently used; drop the oldest beyond
        the bound."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def drop(self, key: K) -> None:
        """Forget ``key`` (nothing when unknown)."""
        self._entries.pop(key, None)

    def drop_oldest_while(self, stale: Callable[[V], bool]) -> None:
        """Drop from the least recently used end while ``stale`` holds of the value."""
        while self._entries:
            key, value = next(iter(self._entries.items()))
            if not stale(value):
                return
            del self._entries[key]

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
