"""Fixtures for the reliability tests: controllers with a short resync.

Every test here runs the controller against the fixed HyperConverged namespace and
cluster-scoped golden-state names, so against a real API server each gets a fresh
one (``FIXED_NAME_SUITES`` in ``tests/conftest.py``, which also has the ``platform``
fixture). The controller runs as its service account, bound only by the shipped
ClusterRole, in both worlds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.controller import StartController, controllers


@pytest.fixture
def controller(cluster: Any) -> Iterator[StartController]:
    """Factory starting `autopilot run` (5 s resync unless told); all stopped afterwards."""
    with controllers(cluster, resync="5s") as start:
        yield start
