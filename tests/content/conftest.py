"""Fixtures for the golden-state content tests."""

from __future__ import annotations

import pytest

from autopilot.golden.catalog import GoldenState
from tests.support.rendering import load


@pytest.fixture(scope="session")
def golden() -> GoldenState:
    """The golden state shipped with the project."""
    return load()
