"""The worker loop: tasks that take keys from the queue and run the reconcile coroutine.

The pool only runs and stops workers; when it should (caches synced, leading, shutting
down) is :class:`autopilot.runtime.workers.Runtime`'s call. A failed reconcile puts
its key back with a rate-limited delay (at least the error's ``retry_after``); a
worker stopped mid-key puts the key back as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import structlog

from autopilot.runtime.supervisor import Heartbeat, TaskSupervisor
from autopilot.runtime.workqueue import ShutDown, WorkQueue

log = structlog.get_logger("autopilot.runtime")

Reconcile = Callable[[Any], Awaitable[None]]


class WorkerPool:
    """``size`` supervised workers over one queue; each beats a heartbeat while busy."""

    def __init__(
        self,
        *,
        reconcile: Reconcile,
        queue: WorkQueue[Any],
        supervisor: TaskSupervisor,
        size: int,
        stale_after: float,
    ) -> None:
        self.reconcile = reconcile
        self.queue = queue
        self.supervisor = supervisor
        self.size = size
        self.stale_after = stale_after
        self._names: list[str] = []
        self._busy: dict[str, Hashable] = {}
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._stop = False
        self._closed = False
        self._lock = asyncio.Lock()
        self.processed = 0

    @property
    def running(self) -> bool:
        """Whether worker tasks are running now."""
        return bool(self._names)

    def close(self) -> None:
        """Never start again (shutdown); running workers stop with :meth:`stop`."""
        self._closed = True

    async def start(self) -> bool:
        """Start the workers; False when they were running already or the pool is closed."""
        async with self._lock:
            if self._names or self._closed:
                return False
            for i in range(self.size):
                name = f"worker/{i}"
                hb = self.supervisor.heartbeat(name, stale_after=self.stale_after)
                hb.pause()
                self._tasks[name] = self.supervisor.spawn(
                    name, self._worker(name, hb), expect_return=True
                )
                self._names.append(name)
            log.info("workers started", workers=self.size)
            return True

    async def stop(self, *, timeout: float) -> None:
        """Stop the workers: idle ones at once, busy ones after their current key."""
        async with self._lock:
            names, self._names = self._names, []
            if not names:
                return
            self._stop = True
            # Idle workers wait in get(): cancelling them loses nothing.
            busy = {n: self._tasks[n] for n in names if n in self._busy}
            for name in names:
                if name not in busy:
                    await self.supervisor.cancel(name, timeout=timeout)
            if busy:
                await asyncio.wait(list(busy.values()), timeout=timeout)
            for name in busy:
                await self.supervisor.cancel(name, timeout=1.0)
            for name in names:
                self._tasks.pop(name, None)
            self._stop = False
            log.info("workers stopped")

    async def _worker(self, name: str, hb: Heartbeat) -> None:
        while not self._stop:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            if self._stop:
                # Leadership was lost between the wake-up and now: put it back.
                self.queue.done(key)
                self.queue.add(key)
                return
            self._busy[name] = key
            hb.beat()
            try:
                await self._work(key)
            finally:
                self._busy.pop(name, None)
                self.queue.done(key)
                hb.pause()
                self.processed += 1

    async def _work(self, key: Any) -> None:
        """Reconcile one key; a failure schedules a retry, success forgets its backoff."""
        try:
            await self.reconcile(key)
        except asyncio.CancelledError:
            self.queue.done(key)
            self.queue.add(key)
            raise
        except Exception as exc:
            log.warning(
                "reconcile failed; will retry",
                key=str(key),
                error=f"{type(exc).__name__}: {exc}",
                retries=self.queue.num_requeues(key),
            )
            retry_after = getattr(exc, "retry_after", None)
            self.queue.add_rate_limited(
                key, at_least=float(retry_after) if isinstance(retry_after, int | float) else 0
            )
        else:
            self.queue.forget(key)
