"""Folded repeats are written once their series is due (``series_interval`` after its
last write), each series on its own clock, and not before."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from autopilot.kube.events import EventRecorder
from tests.support.wait import eventually

INTERVAL = 0.3


def target(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns", "uid": name}}


class Recording:
    """Creates answer with the event's name; series writes are recorded with their time."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.series: list[tuple[str, int, float]] = []

    async def request(self, method: str, path: str, *, body: dict[str, Any],
                      **_: Any) -> dict[str, Any]:
        self.created.append(body["regarding"]["name"])
        return {"metadata": {"name": body["regarding"]["name"]}}

    async def patch(self, res: Any, name: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.series.append((name, body["series"]["count"], time.monotonic()))
        return {}


def emit(recorder: EventRecorder, name: str) -> None:
    recorder.emit(target(name), type="Normal", reason="DriftCorrected", note="same",
                  action="Apply")


async def test_each_series_is_written_when_due_and_not_before() -> None:
    client = Recording()
    recorder = EventRecorder(client, instance="t", series_interval=INTERVAL)  # type: ignore[arg-type]
    task = asyncio.create_task(recorder.run())
    try:
        emit(recorder, "a")
        emit(recorder, "a")
        await eventually(lambda: client.series, timeout=5, what="a's series written")
        assert client.series[0][:2] == ("a", 2)
        # b's repeat is not due yet when a's is written again: a's write leaves b unwritten.
        emit(recorder, "b")
        emit(recorder, "b")
        await eventually(lambda: client.created == ["a", "b"], timeout=5, what="b created")
        folded_b = time.monotonic()
        emit(recorder, "a")
        await eventually(lambda: len(client.series) == 3, timeout=5, what="both written")
        by_name = {name: (count, at) for name, count, at in client.series[1:]}
        assert by_name["a"][0] == 3 and by_name["b"][0] == 2
        assert by_name["b"][1] - folded_b >= INTERVAL - 0.05
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
