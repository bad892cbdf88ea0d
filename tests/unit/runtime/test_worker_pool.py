"""The worker pool: retries a failed key, finishes the key in hand on stop, stays closed."""

from __future__ import annotations

import asyncio
from typing import Any

from autopilot.runtime.supervisor import TaskSupervisor
from autopilot.runtime.worker_pool import WorkerPool
from autopilot.runtime.workqueue import WorkQueue
from tests.support.wait import eventually


class Busy(Exception):
    """A failure that asks for a later retry, as an API server's Retry-After does."""

    retry_after = 0.3


def pool_of(reconcile: Any, *, size: int = 1) -> WorkerPool:
    return WorkerPool(reconcile=reconcile, queue=WorkQueue(), supervisor=TaskSupervisor(),
                      size=size, stale_after=60.0)


async def test_a_failed_key_comes_back_no_sooner_than_its_retry_after() -> None:
    seen: list[tuple[str, float]] = []
    loop = asyncio.get_running_loop()

    async def reconcile(key: str) -> None:
        seen.append((key, loop.time()))
        if len(seen) == 1:
            raise Busy("try later")

    pool = pool_of(reconcile)
    assert await pool.start()
    pool.queue.add("k")
    await eventually(lambda: len(seen) == 2, timeout=10, what="the retry")
    assert seen[1][1] - seen[0][1] >= Busy.retry_after - 0.01
    await eventually(lambda: pool.processed == 2, timeout=5, what="both passes counted")
    assert pool.queue.num_requeues("k") == 0  # success forgets the backoff
    await pool.stop(timeout=2)
    assert not pool.running


async def test_stop_lets_the_key_in_hand_finish() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def reconcile(key: str) -> None:
        started.set()
        await release.wait()
        finished.append(key)

    pool = pool_of(reconcile, size=2)
    assert await pool.start()
    pool.queue.add("slow")
    await asyncio.wait_for(started.wait(), 10)
    stopping = asyncio.create_task(pool.stop(timeout=5))
    # Stopping has begun (no worker counts as running) while the key is still in hand.
    await eventually(lambda: not pool.running, timeout=5, what="stop under way")
    assert finished == []
    release.set()
    await asyncio.wait_for(stopping, 10)
    assert finished == ["slow"]  # waited for, not cancelled
    assert not pool.running


async def test_a_closed_pool_never_starts_again() -> None:
    async def reconcile(key: str) -> None:
        return None

    pool = pool_of(reconcile)
    assert await pool.start()
    assert not await pool.start()  # running already
    await pool.stop(timeout=2)
    pool.close()
    assert not await pool.start()
    assert not pool.running

