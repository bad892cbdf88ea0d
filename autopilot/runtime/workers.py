"""The controller runtime: informers, a work queue, workers that run while leading.

Lifecycle: start the informers, wait for their caches, then (as leader, or at
once without leader election) start the workers. Losing leadership stops the
workers at an item boundary; winning it again restarts them. ``stop()`` stops
taking work, lets each worker finish the key in hand, releases the Lease and
stops the watches, all within a bounded time.

Event handlers feed the queue with ``runtime.queue.add(key)``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from autopilot.runtime.informer_set import InformerSet
from autopilot.runtime.leader import LeaderElector
from autopilot.runtime.supervisor import TaskSupervisor
from autopilot.runtime.worker_pool import Reconcile, WorkerPool
from autopilot.runtime.workqueue import WorkQueue

if TYPE_CHECKING:
    from autopilot.observability.metrics import Metrics

log = structlog.get_logger("autopilot.runtime")

Hook = Callable[[], None]

# A worker holding one key longer than this is considered stuck (/healthz fails).
WORK_STALE_AFTER = 600.0


class Runtime:
    """Generic controller runtime around one reconcile coroutine."""

    def __init__(
        self,
        *,
        reconcile: Reconcile,
        informers: InformerSet | None = None,
        workers: int = 2,
        elector: LeaderElector | None = None,
        metrics: Metrics | None = None,
        queue: WorkQueue[Any] | None = None,
        supervisor: TaskSupervisor | None = None,
        on_leading: Hook | None = None,
        resync_period: float | None = None,
        on_resync: Hook | None = None,
        work_stale_after: float = WORK_STALE_AFTER,
        on_drained: Hook | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.supervisor = supervisor or (informers.supervisor if informers else TaskSupervisor())
        self.informers = informers or InformerSet(self.supervisor)
        self.elector = elector
        self.metrics = metrics
        self.queue: WorkQueue[Any] = queue or WorkQueue(metrics=metrics)
        self.on_leading = on_leading
        self.resync_period = resync_period
        self.on_resync = on_resync
        self.pool = WorkerPool(reconcile=reconcile, queue=self.queue, supervisor=self.supervisor,
                               size=workers, stale_after=work_stale_after)
        # Called once, when the work the first leadership enqueued is done.
        self.on_drained = on_drained
        self._stopping = asyncio.Event()
        self._started = False

    # -- health --------------------------------------------------------------------------

    def healthz(self, *, api_reachable: bool = True) -> tuple[bool, str]:
        """(ok, reason): fails when a supervised loop died, or is stuck while the API
        server answers (waiting on an unreachable server is not being stuck)."""
        return self.supervisor.health(excuse_stalls=not api_reachable)

    def readyz(self) -> tuple[bool, str]:
        """(ok, reason): ready once every informer synced (standbys are ready too)."""
        if not self._started:
            return False, "not started"
        missing = self.informers.not_synced()
        if missing:
            return False, "caches not synced: " + ", ".join(missing)
        return True, "ok"

    @property
    def leading(self) -> bool:
        """Whether this replica does the work (always True without leader election)."""
        return self.elector.is_leader if self.elector is not None else True

    @property
    def workers_running(self) -> bool:
        """Whether worker tasks are running now."""
        return self.pool.running

    @property
    def processed(self) -> int:
        """How many keys the workers have taken and finished (done or failed)."""
        return self.pool.processed

    # -- start/stop --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start informers; after they sync, campaign or start the workers. Returns at once."""
        if self._started:
            return
        self._started = True
        self.informers.start()
        self.supervisor.spawn("runtime/startup", self._startup(), expect_return=True)

    async def _startup(self) -> None:
        while not await self.informers.wait_synced(timeout=5.0):
            log.info("waiting for caches", pending=self.informers.not_synced())
            if self._stopping.is_set():
                return
        if self._stopping.is_set():
            return
        log.info("caches synced")
        if self.elector is None:
            await self._start_workers()
        else:
            self.elector.on_change = self._leadership_changed
            hb = self.supervisor.heartbeat(
                "leader-election", stale_after=max(30.0, self.elector.lease_duration * 4)
            )
            self.elector.beat = hb.beat
            self.supervisor.spawn("leader-election", self.elector.run())
        if self.resync_period:
            self.supervisor.spawn("resync", self._resync_loop())

    async def _leadership_changed(self, leading: bool) -> None:
        if self._stopping.is_set():
            return
        if leading:
            await self._start_workers()
        else:
            await self.pool.stop(timeout=5.0)

    async def _start_workers(self) -> None:
        if not await self.pool.start():  # running already, or shutting down
            return
        if self.on_leading is not None:
            try:
                self.on_leading()
            except Exception as exc:
                log.error("on_leading hook failed", error=f"{type(exc).__name__}: {exc}")
        hook, self.on_drained = self.on_drained, None
        if hook is not None:
            self.supervisor.spawn("runtime/drained", self._when_drained(hook), expect_return=True)

    async def _when_drained(self, hook: Hook) -> None:
        await self.queue.wait_quiet()
        try:
            hook()
        except Exception as exc:
            log.error("on_drained hook failed", error=f"{type(exc).__name__}: {exc}")

    async def _resync_loop(self) -> None:
        assert self.resync_period
        hb = self.supervisor.heartbeat("resync", stale_after=self.resync_period * 3 + 60)
        while True:
            await asyncio.sleep(self.resync_period)
            hb.beat()
            if self.leading and self.on_resync is not None:
                try:
                    self.on_resync()
                except Exception as exc:
                    log.error("resync hook failed", error=f"{type(exc).__name__}: {exc}")

    async def run(self, stop: asyncio.Event) -> None:
        """Start, run until ``stop`` is set, then :meth:`stop`."""
        await self.start()
        await stop.wait()
        await self.stop()

    async def stop(self, *, timeout: float = 8.0) -> None:
        """Stop taking work, finish the keys in hand, release the Lease, stop watches."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self.pool.close()
        await self.supervisor.cancel("runtime/startup", timeout=1.0)
        await self.supervisor.cancel("runtime/drained", timeout=1.0)
        await self.supervisor.cancel("resync", timeout=1.0)
        await self.pool.stop(timeout=max(0.5, (deadline - time.monotonic()) * 0.6))
        self.queue.shutdown()
        if self.elector is not None:
            if self.elector.is_leader:
                left = max(0.5, min(2.0, deadline - time.monotonic()))
                await self.elector.release(timeout=left)
            await self.supervisor.cancel("leader-election", timeout=1.0)
        await self.informers.stop(timeout=max(0.5, deadline - time.monotonic()))
        await self.supervisor.stop(timeout=max(0.5, deadline - time.monotonic()))
        log.info("runtime stopped", processed=self.processed)
