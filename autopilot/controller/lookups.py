"""Cluster lookups for templates, answered by bounded reads and cached between resyncs.

Templates render synchronously in a worker thread; each lookup not cached yet
makes one bounded read through the controller's event loop
(``run_coroutine_threadsafe`` with a timeout), so the loop is never blocked and
a slow API server cannot hang a render. Answers are cached until the next
resync, force-reconcile or CRD change, so a steady cluster sees no repeated reads.
The derived lookups (CRD enums, ConfigMap keys, recording rules, storage
profiles) come from :class:`~autopilot.golden.lookups.ObjectLookups`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog

from autopilot.golden.lookups import ObjectLookups
from autopilot.kube.client import KubeClient
from autopilot.kube.resources import ResourceInfo

log = structlog.get_logger("autopilot.lookups")

T = TypeVar("T")

LOOKUP_TIMEOUT = 10.0


class LiveLookups(ObjectLookups):
    """Template lookups against the live cluster."""

    def __init__(
        self,
        *,
        client: KubeClient,
        resource_for: Callable[[str, str], ResourceInfo | None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._client = client
        self._resource_for = resource_for
        self._loop = loop
        self._cache: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every cached answer."""
        with self._lock:
            self._cache.clear()

    def get_object(
        self, api_version: str, kind: str, name: str, namespace: str = ""
    ) -> dict[str, Any] | None:
        """One object, or None when it (or its kind) does not exist."""
        res = self._resource_for(api_version, kind)
        if res is None:
            return None

        async def fetch() -> dict[str, Any] | None:
            return await self._client.get(
                res, name, namespace=(namespace or None) if res.namespaced else None
            )

        return self._cached(("get", api_version, kind, namespace, name), fetch, default=None)

    def list_objects(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        """Every object of a kind, in all namespaces ([] when not served)."""
        res = self._resource_for(api_version, kind)
        if res is None:
            return []

        async def fetch() -> list[dict[str, Any]]:
            items, _ = await self._client.list(res)
            return list(items)

        return self._cached(("list", api_version, kind), fetch, default=[])

    def _cached(self, key: tuple[str, ...], fetch: Callable[[], Awaitable[T]], *, default: T) -> T:
        with self._lock:
            if key in self._cache:
                return self._cache[key]  # type: ignore[no-any-return]
        try:
            if _on_loop(self._loop):
                raise RuntimeError("lookups must not run on the event loop thread")
            future = asyncio.run_coroutine_threadsafe(_call(fetch), self._loop)
            value = future.result(timeout=LOOKUP_TIMEOUT)
        except Exception as exc:
            # Not cached, so the next render asks again; this one sees the default.
            log.warning("template lookup failed; using its default", lookup=key[0],
                        target="/".join(key[1:]), error=str(exc) or type(exc).__name__)
            return default
        with self._lock:
            self._cache[key] = value
        return value


async def _call(fetch: Callable[[], Awaitable[T]]) -> T:
    return await fetch()


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
