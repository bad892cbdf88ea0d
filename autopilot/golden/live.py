"""Reading a live cluster for a render: the one implementation of template lookups, and inputs.

:class:`LiveLookups` answers the templates' cluster questions against an API
server for the commands that read a cluster once: ``autopilot explain``,
``autopilot render --kubeconfig`` and ``autopilot plan`` (the controller answers
them from watches, :mod:`autopilot.controller.lookup_watches`). Templates render synchronously
in a worker thread; each lookup not cached yet makes one bounded read through
the event loop (``run_coroutine_threadsafe`` with a timeout), so the loop is
never blocked and a slow API server cannot hang a render. A failed lookup gives
its documented default and is asked again next time; answers are cached until
:meth:`LiveLookups.clear`, so one command reads each looked-up object once. The derived lookups
(CRD enums, ConfigMap keys, recording rules, storage profiles) come from
:class:`~autopilot.golden.lookups.ObjectLookups`.

:func:`read_inputs` reads what else a render needs (nodes, Infrastructure,
Scheduler) once, for the commands (:func:`read_live_inputs` builds the lookups
too); the controller reads the same from its watch caches
(:mod:`autopilot.controller.cache_inputs`).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import structlog

from autopilot.golden.context import NodesSummary
from autopilot.golden.inputs import RenderInputs
from autopilot.golden.lookups import ObjectLookups
from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.discovery import RestMapper
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.wellknown import (
    CONFIG_NAME,
    HCO,
    HCO_NAME,
    INFRASTRUCTURES,
    NODES,
    SCHEDULERS,
)

log = structlog.get_logger("autopilot.lookups")

T = TypeVar("T")

LOOKUP_TIMEOUT = 10.0
REQUEST_TIMEOUT = 10.0


class LiveReadError(Exception):
    """The cluster could not be read; one line."""


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


async def read_hco(
    client: KubeClient, *, namespace: str, name: str = HCO_NAME
) -> dict[str, Any] | None:
    """The HyperConverged ``namespace/name``, or None (also when its kind is not served)."""
    try:
        return await client.get(HCO, name, namespace=namespace)
    except ApiError as exc:
        raise LiveReadError(f"reading the cluster failed: {exc}") from None


async def read_inputs(
    client: KubeClient,
    *,
    hco: Mapping[str, Any],
    namespace: str,
    lookups: LiveLookups,
    environ: Mapping[str, str] | None = None,
) -> RenderInputs:
    """Read the nodes, Infrastructure and Scheduler once and assemble the render inputs."""
    try:
        nodes, _ = await client.list(NODES, timeout=REQUEST_TIMEOUT)
        infrastructure = await _optional(client, INFRASTRUCTURES, CONFIG_NAME)
        scheduler = await _optional(client, SCHEDULERS, CONFIG_NAME)
    except ApiError as exc:
        raise LiveReadError(f"reading the cluster failed: {exc}") from None
    return RenderInputs(
        hco=hco,
        namespace=namespace,
        nodes=NodesSummary.of(nodes),
        infrastructure=infrastructure,
        scheduler=scheduler,
        environ=dict(os.environ if environ is None else environ),
        lookups=lookups,
    )


async def read_live_inputs(
    client: KubeClient, *, hco: Mapping[str, Any], namespace: str,
    mapper: RestMapper | None = None,
) -> tuple[RestMapper, RenderInputs]:
    """The render inputs of a live cluster, with lookups through its discovery.

    ``mapper`` is read afresh when not given; it is returned for callers that go on to
    address the rendered objects. Templates render in a worker thread and look up
    through this loop.
    """
    if mapper is None:
        mapper = RestMapper(client)
        await mapper.refresh()
    lookups = LiveLookups(
        client=client, resource_for=mapper.lookup, loop=asyncio.get_running_loop()
    )
    return mapper, await read_inputs(client, hco=hco, namespace=namespace, lookups=lookups)


async def _optional(client: KubeClient, res: ResourceInfo, name: str) -> dict[str, Any] | None:
    """An object that may legitimately not exist (kind not served on plain Kubernetes)."""
    try:
        return await client.get(res, name)
    except ApiError as exc:
        if exc.status in (403, 404):
            return None
        raise
