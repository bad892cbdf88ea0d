"""Events wait for the work in hand, no longer than ``defer_at_most`` after they were
emitted: the applies of a burst go first, the events that report them after."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from autopilot.kube.events import EventRecorder
from autopilot.runtime.workqueue import WorkQueue
from tests.support.wait import eventually

TARGET = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "target", "namespace": "ns", "uid": "u1"}}


class Recording:
    """A client that records when each event was posted (time.monotonic) and its note."""

    def __init__(self) -> None:
        self.posted: list[float] = []
        self.notes: list[str] = []

    async def request(self, method: str, path: str, *, body: dict[str, Any],
                      **_: Any) -> dict[str, Any]:
        self.posted.append(time.monotonic())
        self.notes.append(body["note"])
        return {"metadata": {"name": f"e{len(self.posted)}"}}


@contextlib.asynccontextmanager
async def running(recorder: EventRecorder) -> AsyncIterator[None]:
    task = asyncio.create_task(recorder.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def emit(recorder: EventRecorder, note: str) -> None:
    recorder.emit(TARGET, type="Normal", reason="AssetApplied", note=note, action="Apply")


@pytest.fixture
def busy_queue() -> WorkQueue[str]:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("in-hand")
    return queue


async def test_an_event_waits_for_the_key_in_hand(busy_queue: WorkQueue[str]) -> None:
    client = Recording()
    recorder = EventRecorder(client, instance="t", defer=busy_queue.wait_quiet,  # type: ignore[arg-type]
                             defer_at_most=60.0)
    key = await busy_queue.get()
    async with running(recorder):
        emit(recorder, "one")
        await eventually(lambda: recorder._pending.empty(), timeout=5, what="the event taken")
        for _ in range(5):  # room for a post that does not wait
            await asyncio.sleep(0)
        assert client.posted == []
        done_at = time.monotonic()
        busy_queue.done(key)
        await eventually(lambda: client.posted, timeout=5, what="the event posted")
    assert client.posted[0] >= done_at


async def test_an_event_waits_no_longer_than_defer_at_most(busy_queue: WorkQueue[str]) -> None:
    client = Recording()
    recorder = EventRecorder(client, instance="t", defer=busy_queue.wait_quiet,  # type: ignore[arg-type]
                             defer_at_most=0.2)
    await busy_queue.get()  # and never done
    async with running(recorder):
        emitted = time.monotonic()
        emit(recorder, "one")
        await eventually(lambda: client.posted, timeout=5, what="the event posted anyway")
    assert client.posted[0] - emitted >= 0.2 - 0.02


async def test_a_warning_goes_at_once_ahead_of_the_queued_normal_events(
        busy_queue: WorkQueue[str]) -> None:
    """A controller stopped in the middle of an edit war must not take its
    ThrashingDetected with it: warnings do not wait for the work in hand, nor behind
    the Normal events queued before them."""
    client = Recording()
    recorder = EventRecorder(client, instance="t", defer=busy_queue.wait_quiet,  # type: ignore[arg-type]
                             defer_at_most=60.0)
    await busy_queue.get()  # and never done
    async with running(recorder):
        emit(recorder, "one")
        await eventually(lambda: recorder._pending.empty(), timeout=5, what="the event taken")
        emit(recorder, "two")
        emit(recorder, "three")
        for _ in range(5):
            await asyncio.sleep(0)
        assert client.posted == []  # the Normal ones wait
        recorder.emit(TARGET, type="Warning", reason="ThrashingDetected", note="war",
                      action="Pause")
        # The one in hand goes along; the warning jumps the two still queued, which wait.
        await eventually(lambda: client.notes == ["one", "war"], timeout=5,
                         what="the warning posted")
        await eventually(lambda: recorder._pending.qsize() == 1, timeout=5,
                         what="the next Normal event taken")
        for _ in range(5):
            await asyncio.sleep(0)
        assert client.notes == ["one", "war"]
        recorder.emit(TARGET, type="Warning", reason="ThrashingDetected", note="war again",
                      action="Pause")
        await eventually(lambda: client.notes == ["one", "war", "two", "war again"],
                         timeout=5, what="the second warning posted")
