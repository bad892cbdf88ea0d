"""A clock that only moves when told to, for the work queue's tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from autopilot.runtime.workqueue import TimerHandle


@dataclass(order=True)
class _FakeTimer:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._timers: list[_FakeTimer] = []
        self._seq = 0

    def now(self) -> float:
        """Current fake time."""
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Remember the callback until :meth:`advance` passes its time."""
        self._seq += 1
        timer = _FakeTimer(self._now + max(0.0, delay), self._seq, callback)
        self._timers.append(timer)
        return timer

    def advance(self, seconds: float) -> None:
        """Move time forward and run every timer that became due, in order."""
        target = self._now + seconds
        while True:
            due = sorted(t for t in self._timers if not t.cancelled and t.when <= target)
            if not due:
                break
            timer = due[0]
            self._timers.remove(timer)
            self._now = max(self._now, timer.when)
            timer.callback()
        self._timers = [t for t in self._timers if not t.cancelled]
        self._now = target

    @property
    def pending(self) -> int:
        """Timers not yet run."""
        return sum(1 for t in self._timers if not t.cancelled)
