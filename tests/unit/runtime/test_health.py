"""TaskSupervisor: a dead or stuck loop is never silently lost."""

from __future__ import annotations

import asyncio

from autopilot.runtime.supervisor import TaskSupervisor
from tests.support.wait import eventually


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def forever() -> None:
    await asyncio.Event().wait()


async def test_healthy_while_tasks_run() -> None:
    sup = TaskSupervisor()
    sup.spawn("loop", forever())
    await asyncio.sleep(0)
    assert sup.health() == (True, "")
    await sup.stop()


async def test_task_that_raises_makes_health_fail_naming_it() -> None:
    sup = TaskSupervisor()

    async def boom() -> None:
        raise RuntimeError("watch loop exploded")

    sup.spawn("informer/Node", boom())
    ok, reason = await eventually(
        lambda: (lambda h: h if not h[0] else None)(sup.health()), what="unhealthy"
    )
    assert not ok
    assert "informer/Node" in reason
    assert "watch loop exploded" in reason
    await sup.stop()


async def test_task_that_returns_unexpectedly_fails_health() -> None:
    sup = TaskSupervisor()

    async def quits() -> None:
        return None

    sup.spawn("worker/0", quits())
    await eventually(lambda: not sup.health()[0], what="unhealthy")
    assert "worker/0 returned unexpectedly" in sup.health()[1]
    await sup.stop()


async def test_expected_return_and_deliberate_cancel_are_fine() -> None:
    sup = TaskSupervisor()

    async def once() -> None:
        return None

    sup.spawn("startup", once(), expect_return=True)
    sup.spawn("loop", forever())
    await asyncio.sleep(0.01)
    await sup.cancel("loop")
    assert sup.health() == (True, "")
    assert not sup.running("loop")


async def test_stale_heartbeat_fails_health_and_pause_exempts() -> None:
    clock = FakeTime()
    sup = TaskSupervisor(clock=clock)
    hb = sup.heartbeat("worker/1", stale_after=30)
    clock.now += 29
    assert sup.health()[0]
    clock.now += 2
    ok, reason = sup.health()
    assert not ok
    assert "worker/1 is stuck" in reason
    hb.beat()
    assert sup.health()[0]
    hb.pause()
    clock.now += 1000
    assert sup.health()[0]


async def test_stop_cancels_everything_without_reporting_failures() -> None:
    sup = TaskSupervisor()
    tasks = [sup.spawn(f"t{i}", forever()) for i in range(3)]
    await sup.stop(timeout=1)
    assert all(t.cancelled() for t in tasks)
    assert sup.health() == (True, "")


async def test_runtime_reports_a_stuck_worker_by_name() -> None:
    from autopilot.runtime.workers import Runtime

    release = asyncio.Event()

    async def reconcile(key: str) -> None:
        await release.wait()

    runtime = Runtime(reconcile=reconcile, workers=1, work_stale_after=0.2)
    await runtime.start()
    try:
        await eventually(lambda: runtime.workers_running, what="workers")
        assert runtime.readyz() == (True, "ok")
        runtime.queue.add("stuck-key")
        _ok, reason = await eventually(
            lambda: (lambda h: h if not h[0] else None)(runtime.healthz()), timeout=5,
            what="unhealthy",
        )
        assert "worker/0 is stuck" in reason
        release.set()
        await eventually(lambda: runtime.healthz()[0], what="healthy again")
    finally:
        release.set()
        await runtime.stop(timeout=2)


async def test_a_stall_counts_only_while_the_api_server_answers() -> None:
    """Waiting on an unreachable API server is not being stuck; dying still is."""
    clock = FakeTime()
    sup = TaskSupervisor(clock=clock)
    sup.heartbeat("informer/Node", stale_after=10.0)
    clock.now += 11.0
    ok, reason = sup.health()
    assert not ok and "informer/Node is stuck" in reason
    assert sup.health(excuse_stalls=True) == (True, "")

    async def boom() -> None:
        raise RuntimeError("worker exploded")

    sup.spawn("worker/0", boom())
    ok, reason = await eventually(
        lambda: (lambda h: h if not h[0] else None)(sup.health(excuse_stalls=True)),
        what="worker failure recorded",
    )
    assert not ok and "worker exploded" in reason and "stuck" not in reason
    await sup.stop()
