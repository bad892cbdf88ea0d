"""A continuously refilled token bucket: the one rate limiter of the project.

The work queue reserves tokens (a caller that finds the bucket empty borrows and
learns how long to wait); the anti-thrashing guard takes a token only when one
is there. Time comes from an injected clock so tests control it; a clock that
steps back never drains tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

# Tolerance for float accumulation in the refill (1/6 added six times).
_EPSILON: Final = 1e-9


@dataclass
class TokenBucket:
    """``capacity`` tokens, refilled at ``refill_per_second``; starts full."""

    capacity: float
    refill_per_second: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    _last: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.capacity)
        self._last = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        elapsed = now - self._last
        if elapsed > 0:  # a clock that steps back must not drain tokens
            self.tokens = min(float(self.capacity), self.tokens + elapsed * self.refill_per_second)
        self._last = max(self._last, now)

    def available(self) -> float:
        """Tokens available now (negative while reservations are outstanding)."""
        self._refill()
        return self.tokens

    def try_take(self) -> bool:
        """Take one token if there is one."""
        self._refill()
        if self.tokens + _EPSILON >= 1:
            self.tokens = max(0.0, self.tokens - 1)
            return True
        return False

    def seconds_until_token(self) -> float:
        """How long until a token is available (0 if one is now)."""
        missing = 1 - self.available()
        if missing <= _EPSILON or self.refill_per_second <= 0:
            return 0.0 if missing <= _EPSILON else float("inf")
        return missing / self.refill_per_second

    def reserve(self) -> float:
        """Take one token now, borrowing when there is none; return how long to wait for it."""
        self._refill()
        self.tokens -= 1.0
        if self.tokens + _EPSILON >= 0 or self.refill_per_second <= 0:
            return 0.0 if self.tokens + _EPSILON >= 0 else float("inf")
        return -self.tokens / self.refill_per_second
