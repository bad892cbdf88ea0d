"""Owned background tasks, heartbeats and the health verdict built from them.

Every long-running loop of the controller runs under a :class:`TaskSupervisor`.
A task that dies (raises, or returns although it should run forever) or a loop
whose heartbeat is older than it allows makes ``health()`` fail with a reason
naming it, so ``/healthz`` turns red and the kubelet restarts the pod instead
of the controller silently doing nothing.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog

log = structlog.get_logger("autopilot.health")


@dataclass
class Heartbeat:
    """Last sign of life of one loop; ``stale_after`` None = never stale."""

    name: str
    stale_after: float | None
    clock: Callable[[], float] = time.monotonic
    last: float = field(default=0.0)
    paused: bool = False

    def __post_init__(self) -> None:
        self.last = self.clock()

    def beat(self) -> None:
        """The loop is alive and expected to beat again within ``stale_after``."""
        self.last = self.clock()
        self.paused = False

    def pause(self) -> None:
        """The loop is idle on purpose (e.g. a worker waiting for work): not stale."""
        self.last = self.clock()
        self.paused = True

    def stale(self) -> float | None:
        """Seconds since the last beat when that is too long, else None."""
        if self.paused or self.stale_after is None:
            return None
        age = self.clock() - self.last
        return age if age > self.stale_after else None


@dataclass
class _Supervised:
    name: str
    task: asyncio.Task[Any]
    expect_return: bool


class TaskSupervisor:
    """Starts named tasks, keeps them, and reports when one dies or stalls."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tasks: dict[str, _Supervised] = {}
        self._beats: dict[str, Heartbeat] = {}
        self._failures: dict[str, str] = {}
        self._stopping = False

    # -- tasks ---------------------------------------------------------------------------

    def spawn(
        self,
        name: str,
        coro: Coroutine[Any, Any, Any],
        *,
        expect_return: bool = False,
    ) -> asyncio.Task[Any]:
        """Run ``coro`` as the task ``name`` (replacing a finished one of that name)."""
        old = self._tasks.get(name)
        if old is not None and not old.task.done():
            coro.close()
            raise RuntimeError(f"task {name} is already running")
        self._failures.pop(name, None)
        task = asyncio.get_running_loop().create_task(coro, name=name)
        entry = _Supervised(name, task, expect_return)
        self._tasks[name] = entry
        task.add_done_callback(functools.partial(self._finished, entry))
        return task

    def _finished(self, entry: _Supervised, task: asyncio.Task[Any]) -> None:
        if self._tasks.get(entry.name) is entry and entry.expect_return:
            self._tasks.pop(entry.name, None)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            reason = f"task {entry.name} died: {type(exc).__name__}: {exc}"
        elif entry.expect_return:
            return
        else:
            reason = f"task {entry.name} returned unexpectedly"
        if self._stopping:
            return
        self._failures[entry.name] = reason
        log.error("background task stopped", task=entry.name, reason=reason, exc_info=exc)

    async def cancel(self, name: str, *, timeout: float = 5.0) -> None:
        """Cancel the task ``name`` and wait for it (a deliberate stop is not a failure)."""
        entry = self._tasks.pop(name, None)
        self._beats.pop(name, None)
        self._failures.pop(name, None)
        if entry is None:
            return
        await _cancel_and_wait([entry.task], timeout)

    async def stop(self, *, timeout: float = 5.0) -> None:
        """Cancel every task and wait for them (bounded)."""
        self._stopping = True
        tasks = [e.task for e in self._tasks.values()]
        self._tasks.clear()
        await _cancel_and_wait(tasks, timeout)

    def running(self, name: str) -> bool:
        """Whether the task ``name`` exists and has not finished."""
        entry = self._tasks.get(name)
        return entry is not None and not entry.task.done()

    @property
    def names(self) -> list[str]:
        """Names of the supervised tasks."""
        return sorted(self._tasks)

    # -- heartbeats ------------------------------------------------------------------------

    def heartbeat(self, name: str, *, stale_after: float | None) -> Heartbeat:
        """Register (or replace) the heartbeat ``name``."""
        hb = Heartbeat(name, stale_after, self.clock)
        self._beats[name] = hb
        return hb

    def drop_heartbeat(self, name: str) -> None:
        """Stop watching the heartbeat ``name``."""
        self._beats.pop(name, None)

    # -- verdict ------------------------------------------------------------------------------

    def problems(self, *, excuse_stalls: bool = False) -> list[str]:
        """Why the controller is unhealthy (empty when healthy).

        ``excuse_stalls``: a late heartbeat is not a problem (the API server is away, and
        a loop waiting on it is not stuck in this process); a dead task still is.
        """
        out = [self._failures[n] for n in sorted(self._failures)]
        if excuse_stalls:
            return out
        for name in sorted(self._beats):
            age = self._beats[name].stale()
            if age is not None:
                out.append(f"{name} is stuck: no heartbeat for {age:.0f}s")
        return out

    def health(self, *, excuse_stalls: bool = False) -> tuple[bool, str]:
        """(healthy, reason) for /healthz."""
        problems = self.problems(excuse_stalls=excuse_stalls)
        return (not problems, "; ".join(problems))


async def _cancel_and_wait(tasks: list[asyncio.Task[Any]], timeout: float) -> None:
    for task in tasks:
        task.cancel()
    pending = [t for t in tasks if not t.done()]
    if not pending:
        return
    _, still = await asyncio.wait(pending, timeout=timeout)
    for task in still:
        log.warning("task did not stop in time", task=task.get_name())
