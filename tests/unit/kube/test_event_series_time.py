"""An event series carries the time of its last occurrence, not of the write that sent it.

Repeats are folded and written at most once per ``series_interval``, so the write can
come long after the last repeat; ``series.lastObservedTime`` must still say when the
repeat happened (events.k8s.io/v1: "Time of the last occurrence observed").
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from autopilot.kube.client import KubeClient
from autopilot.kube.events import EVENTS, EventRecorder
from tests.support.kube_resources import CONFIGMAPS
from tests.support.wait import eventually


def parse(micro_time: str) -> datetime:
    return datetime.strptime(micro_time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@pytest.mark.real_ok
async def test_last_observed_time_is_the_last_occurrence(kube: KubeClient,
                                                         namespace: str) -> None:
    target = await kube.create(CONFIGMAPS, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "target", "namespace": namespace},
    })
    target.update(apiVersion="v1", kind="ConfigMap")
    # The series is written a second after its first event at the earliest.
    recorder = EventRecorder(kube, instance="series-time", series_interval=1.0)
    task = asyncio.create_task(recorder.run())
    try:
        first = datetime.now(UTC)
        recorder.emit(target, type="Warning", reason="ApplyFailed", note="denied", action="Apply")
        before = datetime.now(UTC)
        recorder.emit(target, type="Warning", reason="ApplyFailed", note="denied", action="Apply")
        after = datetime.now(UTC)

        async def written() -> dict[str, Any] | None:
            items, _ = await kube.list(EVENTS, namespace=namespace)
            done = [e for e in items if (e.get("series") or {}).get("count") == 2]
            return done[0] if done else None

        event = await eventually(written, timeout=15, what="the series written")
        written_at = datetime.now(UTC)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    slack = timedelta(milliseconds=1)  # microsecond rounding
    last = parse(event["series"]["lastObservedTime"])
    assert before - slack <= last <= after + slack, (before, last, after, written_at)
    assert first - slack <= parse(event["eventTime"]) <= before + slack, event
    # The write itself came later: the two times are not the same thing.
    assert written_at - last >= timedelta(seconds=0.9), (last, written_at)
