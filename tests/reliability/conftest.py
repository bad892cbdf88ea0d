"""Fixtures for the reliability tests: a platform, controllers with a short resync.

Every test here runs the controller against the fixed HyperConverged namespace and
cluster-scoped golden-state names, so against a real API server each gets a fresh
one (see ``pytest_collection_modifyitems``). The controller runs as its service
account, bound only by the shipped ClusterRole, in both worlds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.controller import StartController, controllers
from tests.support.platform import BASE_KINDS, Platform

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents and not item.get_closest_marker("fresh_server"):
            item.add_marker(pytest.mark.fresh_server("fixed golden-state names"))


@pytest.fixture
def platform(cluster: Any) -> Platform:
    """CRDs of the base platform installed; no HCO yet."""
    p = Platform(cluster)
    p.install(*BASE_KINDS)
    return p


@pytest.fixture
def controller(cluster: Any) -> Iterator[StartController]:
    """Factory starting `autopilot run` (5 s resync unless told); all stopped afterwards."""
    with controllers(cluster, resync="5s") as start:
        yield start
