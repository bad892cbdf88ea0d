"""A rate-limited work queue with client-go semantics, for one asyncio loop.

- a key is never handed to two workers at once;
- adding a key that is already waiting collapses into the waiting entry;
- adding a key while a worker processes it marks it dirty: it is queued again
  when the worker calls :meth:`WorkQueue.done`;
- :meth:`WorkQueue.add_after` delays an add; :meth:`WorkQueue.add_rate_limited`
  delays by max(per-key exponential backoff, overall token bucket);
- :meth:`WorkQueue.forget` resets a key's backoff after success.

Time comes from an injectable :class:`Clock` so tests control it.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from autopilot.runtime.tokenbucket import TokenBucket

if TYPE_CHECKING:
    from autopilot.observability.metrics import Metrics

K = TypeVar("K", bound=Hashable)


class ShutDown(Exception):
    """The queue was shut down; workers should exit."""


class TimerHandle(Protocol):
    """What a clock returns for a scheduled callback."""

    def cancel(self) -> None:
        """Do not run the callback."""


class Clock(Protocol):
    """Time source and timer for the queue."""

    def now(self) -> float:
        """Monotonic seconds."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` after ``delay`` seconds."""


class LoopClock:
    """The real clock: ``time.monotonic`` and the running loop's timers."""

    def now(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Schedule on the running loop."""
        return asyncio.get_running_loop().call_later(delay, callback)


class ItemExponentialLimiter(Generic[K]):
    """base * 2**failures, capped; per key."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[K, int] = {}

    def when(self, key: K) -> float:
        """Delay for the next retry of ``key`` (counts one failure)."""
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        if n > 64:  # 2**64 * base is far beyond any cap; avoid float overflow
            return self.cap
        return float(min(self.cap, self.base * (2**n)))

    def num_requeues(self, key: K) -> int:
        """Failures counted for ``key`` since the last forget."""
        return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        """Reset ``key``'s backoff."""
        self._failures.pop(key, None)


class WorkQueue(Generic[K]):
    """The queue. All methods must be called from the loop that runs the workers."""

    def __init__(
        self,
        *,
        name: str = "autopilot",
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        base_delay: float = 0.005,
        max_delay: float = 1000.0,
        qps: float = 10.0,
        burst: int = 100,
    ) -> None:
        self.name = name
        self.clock: Clock = clock or LoopClock()
        self.metrics = metrics
        self._queue: collections.deque[K] = collections.deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._added_at: dict[K, float] = {}
        self._started_at: dict[K, float] = {}
        self._waiting: dict[K, tuple[float, TimerHandle]] = {}
        self._item_limiter = ItemExponentialLimiter[K](base_delay, max_delay)
        # The overall limit: ``qps`` refill, ``burst`` capacity, reservation semantics.
        self._bucket = TokenBucket(capacity=burst, refill_per_second=qps, clock=self.clock.now)
        self._shutting_down = False
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        # Set by done() (the only way to `quiet`), cleared by wait_quiet's waiters.
        self._turned_quiet = asyncio.Event()
        self._turned_quiet.set()

    # -- state --------------------------------------------------------------------------

    def __len__(self) -> int:
        """Keys ready to be handed out (not delayed, not in processing)."""
        return len(self._queue)

    @property
    def quiet(self) -> bool:
        """Whether no key is ready and none is processing (delayed ones may wait)."""
        return not self._queue and not self._processing

    async def wait_quiet(self) -> None:
        """Return once :attr:`quiet` (or shutting down)."""
        while not self.quiet and not self._shutting_down:
            self._turned_quiet.clear()
            await self._turned_quiet.wait()

    @property
    def shutting_down(self) -> bool:
        """Whether :meth:`shutdown` was called."""
        return self._shutting_down

    @property
    def processing(self) -> frozenset[K]:
        """Keys currently held by workers."""
        return frozenset(self._processing)

    def pending(self, key: K) -> bool:
        """Whether ``key`` was added and no worker has taken it since."""
        return key in self._dirty

    @property
    def waiting(self) -> int:
        """Keys whose delayed add has not fired yet."""
        return len(self._waiting)

    def _depth(self) -> None:
        if self.metrics is not None:
            self.metrics.workqueue_depth.labels(self.name).set(len(self._queue))

    # -- adding -----------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Queue ``key`` (collapses with a waiting entry; deferred while processing)."""
        if self._shutting_down or key in self._dirty:
            return
        if self.metrics is not None:
            self.metrics.workqueue_adds_total.labels(self.name).inc()
        self._dirty.add(key)
        if key in self._processing:
            return
        self._push(key)

    def _push(self, key: K) -> None:
        self._queue.append(key)
        self._added_at[key] = self.clock.now()
        self._depth()
        self._wakeup.set()

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds (an earlier pending add wins)."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready_at = self.clock.now() + delay
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= ready_at:
                return
            pending[1].cancel()
        handle = self.clock.call_later(delay, lambda: self._fire(key, ready_at))
        self._waiting[key] = (ready_at, handle)

    def _fire(self, key: K, ready_at: float) -> None:
        pending = self._waiting.get(key)
        if pending is None or pending[0] != ready_at:
            return
        del self._waiting[key]
        self.add(key)

    def add_rate_limited(self, key: K, *, at_least: float = 0.0) -> None:
        """Queue ``key`` after its backoff: max(per-key exponential, token bucket).

        ``at_least`` lengthens the delay (e.g. the server's Retry-After).
        """
        if self._shutting_down:
            return
        if self.metrics is not None:
            self.metrics.workqueue_retries_total.labels(self.name).inc()
        delay = max(self._item_limiter.when(key), self._bucket.reserve(), at_least)
        self.add_after(key, delay)

    def forget(self, key: K) -> None:
        """Reset ``key``'s backoff (its pending delayed add, if any, stays)."""
        self._item_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        """How many rate-limited retries ``key`` had since the last forget."""
        return self._item_limiter.num_requeues(key)

    # -- taking -----------------------------------------------------------------------

    async def get(self) -> K:
        """Wait for a key and mark it processing; raises :class:`ShutDown` after shutdown.

        Cancelling a waiting ``get`` loses nothing: the key is taken only after
        the wait ends.
        """
        while not self._queue and not self._shutting_down:
            self._wakeup.clear()
            await self._wakeup.wait()
        if self._shutting_down:
            raise ShutDown
        key = self._queue.popleft()
        if self._queue:
            self._wakeup.set()  # let the next waiter look too
        self._processing.add(key)
        self._idle.clear()
        self._dirty.discard(key)
        now = self.clock.now()
        added = self._added_at.pop(key, now)
        self._started_at[key] = now
        if self.metrics is not None:
            self.metrics.workqueue_queue_duration_seconds.labels(self.name).observe(now - added)
        self._depth()
        return key

    def done(self, key: K) -> None:
        """The worker finished ``key``; requeue it if it was added meanwhile."""
        if key not in self._processing:
            return
        self._processing.discard(key)
        started = self._started_at.pop(key, None)
        if self.metrics is not None and started is not None:
            self.metrics.workqueue_work_duration_seconds.labels(self.name).observe(
                self.clock.now() - started
            )
        if key in self._dirty and not self._shutting_down:
            self._push(key)
        if not self._processing:
            self._idle.set()
            if not self._queue:
                self._turned_quiet.set()

    # -- stopping ---------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop handing out keys; waiting and future ``get`` calls raise :class:`ShutDown`."""
        self._shutting_down = True
        self._turned_quiet.set()
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        self._wakeup.set()

    async def drain(self, timeout: float | None = None) -> bool:
        """Shut down and wait until no key is processing; False on timeout."""
        self.shutdown()
        try:
            async with asyncio.timeout(timeout):  # not wait_for: see kube/client.py
                await self._idle.wait()
        except TimeoutError:
            return False
        return True
