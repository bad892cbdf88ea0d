"""Fixtures for the reliability tests: a platform, controllers with a short resync."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.controller import Controller
from tests.support.platform import BASE_KINDS, Platform

StartController = Callable[..., Controller]


@pytest.fixture
def platform(cluster: Any) -> Platform:
    """CRDs of the base platform installed; no HCO yet."""
    p = Platform(cluster)
    p.install(*BASE_KINDS)
    return p


@pytest.fixture
def controller(cluster: Any) -> Iterator[StartController]:
    """Factory starting `autopilot run` (5 s resync unless told); all stopped afterwards."""
    started: list[Controller] = []

    def start(*extra: str, wait: bool = True, resync: str = "5s",
              env: dict[str, str] | None = None, kubeconfig: Any = None) -> Controller:
        c = Controller(kubeconfig=kubeconfig or cluster.kubeconfig,
                       extra_args=["--resync-period", resync, *extra], env=env)
        c.start()
        started.append(c)
        if wait:
            c.wait_ready()
        return c

    yield start
    for c in started:
        c.stop()
