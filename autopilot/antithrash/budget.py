"""Anti-thrashing: a token bucket per object bounds how often we write it.

Each object may be applied 10 times in a burst; tokens refill continuously
at one per 6 s. An apply without a token is throttled. Whether throttles (or
owner flips) amount to an edit war is decided by
:mod:`autopilot.antithrash.detector`; this module only keeps the budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final

from autopilot.runtime.lru import LruMap
from autopilot.runtime.tokenbucket import TokenBucket

CAPACITY: Final = 10
REFILL_SECONDS: Final = 6.0

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether an apply may go ahead now."""

    allowed: bool
    retry_after: float = 0.0  # seconds until a token is available


@dataclass
class _State:
    bucket: TokenBucket
    last_seen: float = 0.0


class ThrashGuard:
    """Per-object token buckets.

    Memory is bounded: objects not seen for ``idle_seconds`` (by then their
    bucket has long refilled) and the least recently seen beyond ``max_refs``
    are dropped.
    """

    def __init__(
        self,
        *,
        capacity: int = CAPACITY,
        refill_per_second: float = 1 / REFILL_SECONDS,
        clock: Clock = time.monotonic,
        idle_seconds: float = 3600.0,
        max_refs: int = 50_000,
    ) -> None:
        self._capacity = capacity
        self._rate = refill_per_second
        self._clock = clock
        # Never forget a bucket before it could have refilled completely.
        full = capacity / refill_per_second if refill_per_second > 0 else float("inf")
        self._idle = max(idle_seconds, full)
        self._states: LruMap[Hashable, _State] = LruMap(max_refs)

    def acquire(self, ref: Hashable) -> Decision:
        """Take a token for one apply of ``ref``, or report a throttle."""
        now = self._clock()
        self._prune(now)
        state = self._states.peek(ref)
        if state is None:
            state = _State(bucket=TokenBucket(self._capacity, self._rate, self._clock))
        state.last_seen = now
        self._states.put(ref, state)
        if state.bucket.try_take():
            return Decision(allowed=True)
        return Decision(allowed=False, retry_after=state.bucket.seconds_until_token())

    def reset(self, ref: Hashable) -> None:
        """Start over (pause annotation removed): a full bucket."""
        self._states.drop(ref)

    def forget(self, ref: Hashable) -> None:
        """Drop everything about ``ref`` (object deleted or no longer managed)."""
        self._states.drop(ref)

    def tokens(self, ref: Hashable) -> float:
        """Tokens ``ref`` has now (full capacity if unknown)."""
        state = self._states.peek(ref)
        return state.bucket.available() if state else float(self._capacity)

    def __len__(self) -> int:
        return len(self._states)

    def _prune(self, now: float) -> None:
        self._states.drop_oldest_while(lambda state: now - state.last_seen >= self._idle)
