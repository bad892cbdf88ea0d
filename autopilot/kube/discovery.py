"""Kind <-> resource mapping, for built-in and custom kinds.

The controller's map needs no discovery for what it usually watches: the
built-in kinds every server serves come from a table (:mod:`autopilot.kube.builtins`),
and custom kinds from the CRDs' watch (:meth:`RestMapper.serve_crd`, the moment a
CRD is established, with no wait for discovery to follow). Discovery answers the
rest (a kind served by an aggregated API), and the commands, which watch nothing.

It is read from the aggregated discovery documents (``/api`` and ``/apis`` as
``APIGroupDiscoveryList``, Kubernetes 1.30+): two requests for the whole map. A
server that does not offer them answers the same two paths with the legacy lists,
and every group-version document is then read one by one. A wanted kind missing
from the map triggers a refresh (:meth:`RestMapper.refresh_for`), but not more often
than ``min_refresh_interval``; the commands read it once (:meth:`RestMapper.refresh`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.resources import ResourceInfo, split_api_version

log = structlog.get_logger("autopilot.discovery")

_ERRORS = (ApiError, ConnectionError, TimeoutError, OSError)
# Aggregated discovery first; a server without it answers with plain JSON.
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
_AGGREGATED_KIND = "APIGroupDiscoveryList"
GroupVersion = tuple[str, str]


class RestMapper:
    """Cached discovery of served resources."""

    def __init__(
        self,
        client: KubeClient,
        *,
        min_refresh_interval: float = 3.0,
        concurrency: int = 8,
        clock: Callable[[], float] = time.monotonic,
        builtins: Iterable[ResourceInfo] = (),
    ) -> None:
        self.client = client
        self.min_refresh_interval = min_refresh_interval
        self.concurrency = concurrency
        self.clock = clock
        self._builtins = {(r.api_version, r.kind): r for r in builtins}
        # Kinds of the established CRDs, by CRD name; every CRD name ever seen: its
        # kinds answer from the CRDs alone, never from a discovery map gone stale.
        self._crds: dict[str, list[ResourceInfo]] = {}
        self._by_crd_kind: dict[tuple[str, str], ResourceInfo] = {}
        self._crd_names: set[str] = set()
        self._by_kind: dict[tuple[str, str], ResourceInfo] = {}
        self._last_refresh: float | None = None
        self._lock = asyncio.Lock()

    # -- reading ------------------------------------------------------------------------

    def lookup(self, api_version: str, kind: str) -> ResourceInfo | None:
        """The resource serving ``kind`` in ``api_version``: an established CRD's, a
        built-in's, or else what discovery said (no request)."""
        key = (api_version, kind)
        found = self._by_crd_kind.get(key) or self._builtins.get(key)
        if found is not None:
            return found
        found = self._by_kind.get(key)
        if found is not None and self.crd_name_for(found) in self._crd_names:
            return None  # a CRD's kind, and that CRD no longer serves it
        return found

    def all(self) -> list[ResourceInfo]:
        """Every served (top-level) resource, as discovery last read it."""
        return list(self._by_kind.values())

    @staticmethod
    def crd_name_for(res: ResourceInfo) -> str | None:
        """``<plural>.<group>``: the CRD that would serve ``res`` (None for the core group)."""
        return f"{res.plural}.{res.group}" if res.group else None

    # -- the CRDs' watch ---------------------------------------------------------------

    def serve_crd(self, name: str, resources: Iterable[ResourceInfo]) -> None:
        """What CRD ``name`` serves now (nothing: not established, going away, or
        deleted)."""
        self._crd_names.add(name)
        for res in self._crds.pop(name, ()):
            self._by_crd_kind.pop((res.api_version, res.kind), None)
        served = list(resources)
        if served:
            self._crds[name] = served
            for res in served:
                self._by_crd_kind[(res.api_version, res.kind)] = res

    # -- refreshing --------------------------------------------------------------------

    async def refresh_for(self, kinds: Iterable[tuple[str, str]]) -> None:
        """Read discovery (at most every ``min_refresh_interval``) when one of ``kinds``
        (apiVersion, kind) is neither built in nor served by a CRD: an aggregated API
        may serve it."""
        if any(self.lookup(av, kind) is None for av, kind in kinds):
            await self._refresh_if(self._may_refresh)

    def _may_refresh(self) -> bool:
        return self._last_refresh is None or (
            self.clock() - self._last_refresh >= self.min_refresh_interval)

    async def _refresh_if(self, condition: Callable[[], bool]) -> None:
        async with self._lock:  # concurrent misses share one refresh
            if condition():
                try:
                    await self._refresh_locked()
                except _ERRORS as exc:
                    log.warning("discovery failed", error=str(exc))

    async def refresh(self) -> None:
        """Re-read discovery now. Raises when the core documents cannot be read."""
        async with self._lock:
            await self._refresh_locked()

    async def _refresh_locked(self) -> None:
        started = self.clock()
        found: list[ResourceInfo] = []
        failed: set[GroupVersion] = set()
        legacy: list[GroupVersion] = []
        # Both documents at once: each is one round trip the start waits on.
        docs = await asyncio.gather(*(
            self.client.request("GET", path, accept=AGGREGATED) for path in ("/api", "/apis")
        ))
        for path, doc in zip(("/api", "/apis"), docs, strict=True):
            if doc.get("kind") == _AGGREGATED_KIND:
                failed |= _aggregated(doc, found)
            else:
                legacy += _legacy_group_versions(doc, core=path == "/api")
        if legacy:
            failed |= await self._read_group_versions(legacy, found)
        by_kind: dict[tuple[str, str], ResourceInfo] = {}
        for info in found:
            by_kind[(info.api_version, info.kind)] = info
        # Keep what we knew about group versions that failed this time.
        for key, info in self._by_kind.items():
            if (info.group, info.version) in failed and key not in by_kind:
                by_kind[key] = info
        self._by_kind = by_kind
        self._last_refresh = self.clock()
        log.debug("discovery refreshed", resources=len(by_kind), aggregated=not legacy,
                  seconds=round(self._last_refresh - started, 3))

    async def _read_group_versions(
        self, group_versions: list[GroupVersion], found: list[ResourceInfo]
    ) -> set[GroupVersion]:
        """Legacy discovery: one document per group version; returns the ones that failed."""
        sem = asyncio.Semaphore(self.concurrency)

        async def fetch(group: str, version: str) -> tuple[str, str, dict[str, Any] | None]:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            async with sem:
                try:
                    return group, version, await self.client.request("GET", path)
                except _ERRORS as exc:
                    # One unavailable aggregated API must not hide every other kind.
                    log.info("group version unavailable", group_version=path, error=str(exc))
                    return group, version, None

        failed: set[GroupVersion] = set()
        for group, version, doc in await asyncio.gather(*(fetch(g, v) for g, v in group_versions)):
            if doc is None:
                failed.add((group, version))
                continue
            for res in doc.get("resources") or []:
                plural = str(res.get("name") or "")
                kind = str(res.get("kind") or "")
                if plural and "/" not in plural and kind:  # not a subresource
                    found.append(
                        ResourceInfo(group, version, kind, plural, bool(res.get("namespaced")))
                    )
        return failed


def _legacy_group_versions(doc: dict[str, Any], *, core: bool) -> list[GroupVersion]:
    """Group versions named by ``/api`` (``APIVersions``) or ``/apis`` (``APIGroupList``)."""
    if core:
        return [("", str(v)) for v in doc.get("versions") or []]
    out: list[GroupVersion] = []
    for group in doc.get("groups") or []:
        name = str(group.get("name") or "")
        for version in group.get("versions") or []:
            gv = str(version.get("groupVersion") or "")
            if name and gv:
                out.append((name, split_api_version(gv)[1]))
    return out


def _aggregated(doc: dict[str, Any], found: list[ResourceInfo]) -> set[GroupVersion]:
    """Resources of an ``APIGroupDiscoveryList`` into ``found``; returns stale group versions.

    A group version the server could not refresh (an aggregated API that is down)
    is marked ``Stale``: its resources are taken as given, and what was known
    before is kept as for a failed legacy read.
    """
    stale: set[GroupVersion] = set()
    for item in doc.get("items") or []:
        group = str((item.get("metadata") or {}).get("name") or "")
        for entry in item.get("versions") or []:
            version = str(entry.get("version") or "")
            if not version:
                continue
            if entry.get("freshness") == "Stale":
                stale.add((group, version))
            for res in entry.get("resources") or []:
                plural = str(res.get("resource") or "")
                kind = str((res.get("responseKind") or {}).get("kind") or "")
                if plural and kind:
                    namespaced = res.get("scope") == "Namespaced"
                    found.append(ResourceInfo(group, version, kind, plural, namespaced))
    return stale
