"""The informer's parts that know nothing of watches: its cache and its retry delay.

A ``Retry-After`` is honoured, with one exception. While the API server fills
the watch cache of a resource it answers ``429 storage is (re)initializing``
with ``Retry-After: 1`` (see :mod:`autopilot.kube.informer`): for that answer
alone the delay starts at 50 ms and doubles, at most four times, before it
falls back to the hint and the usual backoff.
"""

from __future__ import annotations

import builtins
import random
from collections.abc import Iterator
from typing import Any

from autopilot.kube.errors import ApiError

Key = tuple[str, str]  # (namespace or "", name)

# The 429 of a watch cache still filling (see the module docstring).
STORAGE_INITIALIZING = "storage is (re)initializing"
_WARMING_FIRST_POLL = 0.05
_WARMING_POLLS = 4


def storage_initializing(exc: ApiError) -> bool:
    """Whether ``exc`` is the server's 429 for a watch cache that is still filling."""
    return exc.status == 429 and STORAGE_INITIALIZING in exc.message


def object_key(obj: dict[str, Any]) -> Key:
    """(namespace, name) of an object dict."""
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


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


class RetryDelay:
    """Seconds before an informer's next attempt after a failed or ended stream."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self._warming_polls = 0
        self.last: float | None = None

    def next(self, error: ApiError | None) -> float:
        """Backoff, or longer when the server asks (shorter while its watch cache fills)."""
        retry_after = (error.retry_after or 0.0) if error is not None else 0.0
        if (error is not None and storage_initializing(error)
                and self._warming_polls < _WARMING_POLLS):
            poll = _WARMING_FIRST_POLL * 2.0**self._warming_polls
            self._warming_polls += 1
            delay = min(poll, retry_after) if retry_after else poll
        else:
            delay = max(self.backoff.next(), min(retry_after, self.backoff.cap))
        self.last = delay
        return delay

    def reset(self) -> None:
        """A healthy stream: back to the first delay and the first short poll."""
        self.backoff.reset()
        self._warming_polls = 0
