"""Adoption reads: is an object missing from our cache really absent? (:class:`AdoptionReads`).

The managed kinds' caches hold only objects that carry the ownership label. An
object missing there may still exist without it (made by someone else, or handed
over by a user who stripped the label) and must be read before anything is
written: it may be paused or unmanaged. At start every object misses at once,
which used to cost one GET each. A *census* answers for a whole kind in one
request: a metadata-only list of the kind (one page, names only kept). A name
absent from a fresh census is created without a read; a present one is read in
full, as before.

A census is trusted for :data:`CENSUS_TTL` seconds only: an object someone
creates without our label after the census and before our apply would be
written over without a read, so the window is kept to the first passes that
share it. A kind with more objects than one page holds is not counted (every
miss is read), nor is one whose list the server refuses.

Before any census, a listed informer that already covers the object whatever its
labels (:mod:`autopilot.runtime.coverage`) answers: absent there is absent, and an
object it keeps whole is copied from it. Only an object it keeps reduced is read.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from autopilot.kube.errors import ApiError
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.verbs import METADATA_LIST
from autopilot.runtime.coverage import covering
from autopilot.runtime.informer_set import InformerSet

log = structlog.get_logger("autopilot.reconcile")

CENSUS_TTL = 5.0
CENSUS_PAGE = 500
CENSUS_TIMEOUT = 10.0


class Reads(Protocol):
    """The two reads adoption makes (the Kubernetes client)."""

    async def get(
        self, res: ResourceInfo, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""

    async def request(
        self, method: str, path: str, *, query: Any = None, body: Any = None,
        content_type: str = "application/json", timeout: float | None = None,
        accept: str | None = None,
    ) -> dict[str, Any]:
        """One request; the decoded JSON body."""


@dataclass(frozen=True)
class _Census:
    taken: float
    names: frozenset[str] | None  # None: not counted (too many, or refused)


@dataclass
class AdoptionReads:
    """The read that tells a missing object from an unlabelled one, by census first."""

    client: Reads
    # The controller's informers: one covering the object answers before any census.
    informers: InformerSet | None = None
    ttl: float = CENSUS_TTL
    page: int = CENSUS_PAGE
    clock: Callable[[], float] = time.monotonic
    _census: dict[tuple[str, str], _Census] = field(default_factory=dict)
    _taking: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    async def read(self, res: ResourceInfo, *, namespace: str, name: str
                   ) -> dict[str, Any] | None:
        """The live object, or None when it does not exist.

        Raises what the client raises (``ApiError``, ``OSError``, ``TimeoutError``) for
        the full read; a failed census only means the object is read.
        """
        cover = None if self.informers is None else covering(
            self.informers, res, namespace=namespace, name=name)
        if cover is not None:
            cached = cover.get(namespace=namespace, name=name)
            if cached is None:
                return None
            if cover.whole:
                return copy.deepcopy(cached)  # the pass must not change the cache
            return await self.client.get(res, name, namespace=namespace or None)
        census = await self._census_of(res, namespace)
        if census.names is not None and name not in census.names:
            return None
        return await self.client.get(res, name, namespace=namespace or None)

    async def _census_of(self, res: ResourceInfo, namespace: str) -> _Census:
        key = (res.path(namespace=namespace or None), res.kind)
        # One census per kind at a time: the first passes of a kind run in several
        # workers at once, and the later ones use what the first one took.
        async with self._taking.setdefault(key, asyncio.Lock()):
            census = self._census.get(key)
            if census is None or self.clock() - census.taken > self.ttl:
                census = self._census[key] = await self._take(res, namespace)
            return census

    async def _take(self, res: ResourceInfo, namespace: str) -> _Census:
        taken = self.clock()
        try:
            page = await self.client.request(
                "GET", res.path(namespace=namespace or None), query={"limit": self.page},
                timeout=CENSUS_TIMEOUT, accept=METADATA_LIST)
        except (ApiError, OSError, TimeoutError) as exc:
            log.debug("census not taken; reading each object", kind=res.kind,
                      namespace=namespace, error=str(exc))
            return _Census(taken, None)
        if (page.get("metadata") or {}).get("continue"):
            return _Census(taken, None)
        names = frozenset(
            str((item.get("metadata") or {}).get("name"))
            for item in page.get("items") or [] if isinstance(item, dict))
        return _Census(taken, names)
