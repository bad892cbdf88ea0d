"""Fixtures of the web-surface tests: an HTTP session and the debug app over a provider double."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from autopilot.web import Served, debug_app
from tests.support.web_double import TIMEOUT, FakeProvider, started


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session with a 10 s total timeout."""
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        yield s


@pytest.fixture
def provider() -> FakeProvider:
    """A fresh provider double."""
    return FakeProvider()


@pytest.fixture
async def debug(provider: FakeProvider) -> AsyncIterator[Served]:
    """The debug app over ``provider``, served on loopback."""
    async for s in started(debug_app(provider)):
        yield s
