"""Wait on a condition with a deadline instead of sleeping and hoping."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# A wait given no timeout has no bound of its own to prove, only "it happens": on a
# machine shared with other work (CI sets TEST_TIMEOUT_SCALE) it waits as many times
# longer as the test timeouts do. An explicit timeout is a bound the test asserts and
# is never scaled.
DEFAULT_WAIT_S = 10.0


def default_wait() -> float:
    """The wait for a condition given no timeout: 10 s, times ``TEST_TIMEOUT_SCALE``."""
    return DEFAULT_WAIT_S * float(os.environ.get("TEST_TIMEOUT_SCALE") or 1)


async def eventually(
    probe: Callable[[], Awaitable[T] | T],
    *,
    timeout: float | None = None,
    interval: float = 0.02,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until it returns a truthy value; fail with ``what`` after ``timeout``.

    ``probe`` may be sync or async. Exceptions raised by the probe count as "not yet"
    and the last one is reported on timeout. No ``timeout``: :func:`default_wait`.
    """
    timeout = default_wait() if timeout is None else timeout
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    last: object = None
    while True:
        try:
            result = probe()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
            last = result
            if result:
                return result  # type: ignore[return-value]
        except AssertionError as exc:
            last_exc = exc
        except Exception as exc:
            last_exc = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else f" (last value: {last!r})"
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        await asyncio.sleep(interval)


def eventually_sync(
    probe: Callable[[], T],
    *,
    timeout: float | None = None,
    interval: float = 0.02,
    what: str = "condition",
) -> T:
    """Blocking variant of :func:`eventually` for synchronous tests."""
    timeout = default_wait() if timeout is None else timeout
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    last: object = None
    while True:
        try:
            last = probe()
            if last:
                return last
        except Exception as exc:
            last_exc = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else f" (last value: {last!r})"
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)
