"""Work-queue semantics (client-go compatible), with a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from autopilot.observability.metrics import Metrics
from autopilot.runtime.tokenbucket import TokenBucket
from autopilot.runtime.workqueue import ItemExponentialLimiter, ShutDown, WorkQueue
from tests.support.clock import FakeClock


def make(**kw: object) -> tuple[WorkQueue[str], FakeClock]:
    clock = FakeClock()
    return WorkQueue(clock=clock, **kw), clock  # type: ignore[arg-type]


async def test_adds_while_queued_collapse() -> None:
    q, _ = make()
    q.add("a")
    q.add("b")
    q.add("a")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert len(q) == 0


async def test_key_never_handed_to_two_workers() -> None:
    q, _ = make()
    q.add("a")
    assert await q.get() == "a"
    q.add("a")  # while processing: dirty, not queued
    assert len(q) == 0
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.done("a")  # now requeued, once
    assert await asyncio.wait_for(waiter, 1) == "a"
    q.done("a")
    assert len(q) == 0


async def test_add_while_processing_requeues_once_after_done() -> None:
    q, _ = make()
    q.add("a")
    key = await q.get()
    q.add(key)
    q.add(key)
    q.done(key)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_fifo_order_and_blocking_get() -> None:
    q, _ = make()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.add("x")
    assert await asyncio.wait_for(getter, 1) == "x"


async def test_add_after_waits_for_clock_and_earliest_wins() -> None:
    q, clock = make()
    q.add_after("a", 10)
    q.add_after("a", 5)  # earlier wins
    q.add_after("a", 20)  # later ignored
    clock.advance(4.9)
    assert len(q) == 0
    clock.advance(0.2)
    assert len(q) == 1
    assert clock.pending == 0
    assert q.waiting == 0


async def test_add_after_zero_is_immediate() -> None:
    q, _ = make()
    q.add_after("a", 0)
    assert len(q) == 1


async def test_rate_limited_backoff_doubles_and_forget_resets() -> None:
    q, clock = make()
    for expected in (0.005, 0.01, 0.02, 0.04):
        q.add_rate_limited("a")
        clock.advance(expected - 1e-6)
        assert len(q) == 0, f"ready before {expected}s"
        clock.advance(2e-6)
        assert len(q) == 1, f"not ready after {expected}s"
        assert await q.get() == "a"
        q.done("a")
    assert q.num_requeues("a") == 4
    q.forget("a")
    assert q.num_requeues("a") == 0


def test_item_limiter_caps() -> None:
    lim: ItemExponentialLimiter[str] = ItemExponentialLimiter(0.005, 1000.0)
    values = [lim.when("k") for _ in range(40)]
    assert values[0] == 0.005
    assert max(values) == 1000.0
    assert values[-1] == 1000.0
    assert lim.when("other") == 0.005


def test_token_bucket_burst_then_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucket(capacity=100, refill_per_second=10, clock=clock.now)
    assert all(bucket.reserve() == 0 for _ in range(100))
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)
    clock.advance(10)  # refills (capped at burst)
    assert bucket.reserve() == 0


async def test_rate_limit_is_max_of_item_and_bucket() -> None:
    q, _ = make(qps=1.0, burst=1)
    q.add_rate_limited("a")  # bucket has its one token: item delay 5 ms
    q.add_rate_limited("b")  # bucket empty: 1 s
    # internal check via the fake clock: b must not be ready at 0.5 s
    clock = q.clock
    assert isinstance(clock, FakeClock)
    clock.advance(0.5)
    assert len(q) == 1
    clock.advance(0.6)
    assert len(q) == 2


async def test_shutdown_wakes_getters_and_refuses_adds() -> None:
    q, _ = make()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.shutdown()
    for g in getters:
        with pytest.raises(ShutDown):
            await asyncio.wait_for(g, 1)
    q.add("a")
    assert len(q) == 0
    with pytest.raises(ShutDown):
        await q.get()


async def test_drain_waits_for_item_in_hand() -> None:
    q, _ = make()
    q.add("a")
    key = await q.get()
    drain = asyncio.create_task(q.drain(timeout=5))
    await asyncio.sleep(0)
    assert not drain.done()
    q.done(key)
    assert await asyncio.wait_for(drain, 1) is True


async def test_drain_times_out_when_worker_stuck() -> None:
    q, _ = make()
    q.add("a")
    await q.get()
    assert await q.drain(timeout=0.01) is False


async def test_cancelled_get_loses_nothing() -> None:
    q, _ = make()
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("a")
    waiter.cancel()  # cancelled before it could resume
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await q.get() == "a"


async def test_concurrent_workers_process_each_key_once_at_a_time() -> None:
    q: WorkQueue[int] = WorkQueue(clock=FakeClock())
    active: set[int] = set()
    seen: list[int] = []

    async def worker() -> None:
        while True:
            try:
                key = await q.get()
            except ShutDown:
                return
            assert key not in active
            active.add(key)
            await asyncio.sleep(0)
            seen.append(key)
            active.discard(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for round_ in range(5):
        for k in range(10):
            q.add(k)
        await asyncio.sleep(0)
        del round_
    async def settled() -> bool:
        await asyncio.sleep(0.01)
        return len(q) == 0 and not q.processing
    for _ in range(100):
        if await settled():
            break
    assert set(seen) == set(range(10))
    await q.drain(timeout=1)
    await asyncio.gather(*workers)


async def test_metrics_recorded() -> None:
    metrics = Metrics()
    q, clock = make(metrics=metrics, name="test")
    q.add("a")
    q.add("b")
    assert metrics.value("virt_platform_workqueue_depth", name="test") == 2
    clock.advance(2)
    key = await q.get()
    clock.advance(3)
    q.done(key)
    q.add_rate_limited("c")
    assert metrics.value("virt_platform_workqueue_adds_total", name="test") == 2
    assert metrics.value("virt_platform_workqueue_retries_total", name="test") == 1
    assert metrics.value("virt_platform_workqueue_depth", name="test") == 1
    assert metrics.value("virt_platform_workqueue_queue_duration_seconds_sum", name="test") == 2
    assert metrics.value("virt_platform_workqueue_work_duration_seconds_sum", name="test") == 3


async def test_rate_limited_honours_at_least() -> None:
    q, clock = make()
    q.add_rate_limited("a", at_least=3.0)  # e.g. the server's Retry-After
    clock.advance(2.9)
    assert len(q) == 0
    clock.advance(0.2)
    assert len(q) == 1


async def test_wait_quiet_returns_once_nothing_is_ready_or_in_hand() -> None:
    q, _ = make()
    await asyncio.wait_for(q.wait_quiet(), 1)  # an empty queue is quiet
    q.add("a")
    q.add("b")
    waiter = asyncio.create_task(q.wait_quiet())
    first = await q.get()
    q.done(first)  # "b" still ready: not quiet yet
    second = await q.get()
    await asyncio.sleep(0)
    assert not waiter.done()
    q.done(second)
    await asyncio.wait_for(waiter, 1)
    q.add("c")
    stopping = asyncio.create_task(q.wait_quiet())
    q.shutdown()  # a shut-down queue keeps nobody waiting
    await asyncio.wait_for(stopping, 1)
