"""An informer loop that stops beating turns health red once its allowance is over.

The allowance (``Informer.max_quiet``) covers the longest healthy silence: the
watch inactivity watchdog, a capped backoff with jitter, a list timeout, and a
margin; with the defaults that is about 200 s. Health is asked with a fake clock,
so the test does not wait for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from autopilot.kube.informer import Informer, WatchSettings
from autopilot.kube.wellknown import NODES
from autopilot.runtime.informer_set import InformerSet
from autopilot.runtime.supervisor import TaskSupervisor
from tests.support.wait import eventually


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class HangingClient:
    """A client whose lists never answer (and ignore their timeout): a stuck loop."""

    def __init__(self) -> None:
        self.lists = 0

    async def list(self, *_: Any, **__: Any) -> tuple[list[dict[str, Any]], str]:
        self.lists += 1
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def watch_stream(self, *_: Any, **__: Any) -> AsyncIterator[Any]:
        self.lists += 1  # a streaming list: the informer's first request
        await asyncio.Event().wait()
        raise AssertionError("unreachable")
        yield


def test_default_informer_allowance_is_about_200_seconds() -> None:
    informer = Informer(HangingClient(), NODES)  # type: ignore[arg-type]
    # 70 s watchdog + 30 s backoff cap with 25 % jitter + 60 s list timeout + 30 s margin.
    assert informer.max_quiet == 197.5


async def test_a_stuck_informer_turns_health_red_after_its_allowance() -> None:
    clock = FakeTime()
    supervisor = TaskSupervisor(clock=clock)
    client = HangingClient()
    # A short allowance: 1 s watchdog, 1 s backoff cap, 1 s list timeout (+ 30 s margin).
    informer = Informer(client, NODES,  # type: ignore[arg-type]
                        settings=WatchSettings(inactivity_timeout=1.0, backoff_max=1.0,
                                               list_timeout=1.0))
    allowance = informer.max_quiet
    assert allowance == 33.25
    informers = InformerSet(supervisor)
    informers.add("nodes", informer)
    informers.start()
    try:
        await eventually(lambda: client.lists == 1, what="the informer's first (streaming) list")
        assert supervisor.health() == (True, "")
        clock.now += allowance - 0.5
        assert supervisor.health() == (True, ""), "red before the allowance was over"
        clock.now += 1.0
        ok, reason = supervisor.health()
        assert not ok
        assert reason == f"informer/nodes is stuck: no heartbeat for {allowance + 0.5:.0f}s"
        # A beat (the loop came back) turns it green again.
        assert informer.beat is not None
        informer.beat()
        assert supervisor.health() == (True, "")
    finally:
        await informers.stop(timeout=2)
