"""A cache that keeps only the objects it was told to: :class:`KeptStore`.

An informer's store normally holds every object its watch selects. A watch that
must see a whole kind to learn of a few names (several tombstones of one kind,
whatever their labels) needs no more than those few in memory: the informer hands
this store every object it lists or hears of, and it keeps only the named ones.
The informer's handlers still hear of every object; they filter by name as well.
"""

from __future__ import annotations

from typing import Any

from autopilot.kube.store import Key, Store


class KeptStore(Store):
    """A :class:`Store` holding only the objects whose (namespace, name) is in ``keep``."""

    def __init__(self, keep: frozenset[Key]) -> None:
        super().__init__()
        self.keep = keep

    def _put(self, key: Key, obj: dict[str, Any]) -> dict[str, Any] | None:
        if key not in self.keep:
            return None
        return super()._put(key, obj)

    def _replace(self, items: dict[Key, dict[str, Any]]) -> dict[Key, dict[str, Any]]:
        return super()._replace({k: v for k, v in items.items() if k in self.keep})
