"""Read a live cluster once for ``autopilot render --kubeconfig``: context and lookups.

Short-lived and bounded: every request has a timeout; lookups run from the render
thread through the event loop with a timeout, so nothing can hang.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

from autopilot.golden.context import RenderContext, build_context, reduce_node
from autopilot.golden.lookups import ObjectLookups
from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.resources import ResourceInfo, split_api_version
from autopilot.kube.wellknown import CONFIG_NAME, HCO, HCO_NAME, INFRASTRUCTURES, NODES, SCHEDULERS

REQUEST_TIMEOUT = 10.0


class LiveReadError(Exception):
    """The cluster could not be read; one line."""


async def _optional(client: KubeClient, res: ResourceInfo, name: str) -> dict[str, Any] | None:
    """An object that may legitimately not exist (kind not served on plain Kubernetes)."""
    try:
        return await client.get(res, name)
    except ApiError as exc:
        if exc.status in (403, 404):
            return None
        raise


@dataclass
class LiveSnapshot:
    """What one live read produced."""

    hco: dict[str, Any]
    context: RenderContext


async def read_context(
    client: KubeClient, *, namespace: str, version: str, environ: dict[str, str] | None = None
) -> LiveSnapshot:
    """Read the HCO, nodes, Infrastructure and Scheduler and build the render context."""
    try:
        hco = await client.get(HCO, HCO_NAME, namespace=namespace)
        if hco is None:
            raise LiveReadError(f"HyperConverged {namespace}/{HCO_NAME} not found")
        nodes, _ = await client.list(NODES, timeout=REQUEST_TIMEOUT)
        infrastructure = await _optional(client, INFRASTRUCTURES, CONFIG_NAME)
        scheduler = await _optional(client, SCHEDULERS, CONFIG_NAME)
    except ApiError as exc:
        raise LiveReadError(f"reading the cluster failed: {exc}") from None
    ctx = build_context(
        hco=hco,
        nodes=[reduce_node(n) for n in nodes],
        infrastructure=infrastructure,
        scheduler=scheduler,
        environ=dict(os.environ if environ is None else environ),
        version=version,
        namespace=namespace,
    )
    return LiveSnapshot(hco=hco, context=ctx)


class BridgedLookups(ObjectLookups):
    """Lookups for a render running in a worker thread, answered on the event loop."""

    def __init__(self, client: KubeClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop
        self._resources: dict[str, list[dict[str, Any]]] = {}

    def _run(self, coro: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=REQUEST_TIMEOUT * 2)
        except TimeoutError:
            future.cancel()
            raise LiveReadError("cluster lookup timed out") from None

    async def _resource(self, api_version: str, kind: str) -> ResourceInfo | None:
        if api_version not in self._resources:
            group, version = split_api_version(api_version)
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                body = await self._client.request("GET", path, timeout=REQUEST_TIMEOUT)
            except ApiError:
                body = {}
            self._resources[api_version] = list(body.get("resources") or [])
        for entry in self._resources[api_version]:
            if entry.get("kind") == kind and "/" not in str(entry.get("name", "")):
                group, version = split_api_version(api_version)
                return ResourceInfo(
                    group, version, kind, str(entry["name"]), bool(entry.get("namespaced"))
                )
        return None

    async def _get(
        self, api_version: str, kind: str, name: str, namespace: str
    ) -> dict[str, Any] | None:
        res = await self._resource(api_version, kind)
        if res is None:
            return None
        try:
            return await self._client.get(
                res, name, namespace=(namespace or None) if res.namespaced else None
            )
        except ApiError as exc:
            if exc.status in (403, 404):
                return None
            raise

    async def _list(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        res = await self._resource(api_version, kind)
        if res is None:
            return []
        try:
            items, _ = await self._client.list(res, timeout=REQUEST_TIMEOUT)
        except ApiError as exc:
            if exc.status in (403, 404):
                return []
            raise
        return items

    def get_object(
        self, api_version: str, kind: str, name: str, namespace: str = ""
    ) -> dict[str, Any] | None:
        """One object, or ``None``."""
        result: dict[str, Any] | None = self._run(self._get(api_version, kind, name, namespace))
        return result

    def list_objects(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        """Every object of a kind."""
        result: list[dict[str, Any]] = self._run(self._list(api_version, kind))
        return result
