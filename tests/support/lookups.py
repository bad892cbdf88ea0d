"""Template lookups over a test's own informers, as the controller wires them.

The lookup and covering-read tests start an informer set, build ``WatchedLookups``
on it and record what it asks to re-render; the helpers here do it one way, and stop
the informers whatever the test's outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from autopilot.controller.lookup_watches import WatchedLookups
from autopilot.kube.client import USER_AGENT, KubeClient
from autopilot.kube.resources import ResourceInfo
from autopilot.runtime.informer_set import InformerSet
from tests.support.kube_resources import CONFIGMAPS

# The kinds a lookup test serves: ConfigMaps alone.
CONFIGMAPS_SERVED: Mapping[tuple[str, str], ResourceInfo] = {("v1", "ConfigMap"): CONFIGMAPS}


def configmap(name: str, namespace: str, value: str = "v") -> dict[str, Any]:
    """A ConfigMap whose key ``k`` holds ``value``."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": {"k": value}}


def resource_for(served: Mapping[tuple[str, str], ResourceInfo] = CONFIGMAPS_SERVED
                 ) -> Callable[[str, str], ResourceInfo | None]:
    """Discovery as the lookups ask it: ``served`` read at each question (so a test
    may change it to play a kind coming or going)."""
    return lambda api_version, kind: served.get((api_version, kind))


def served_since(cluster: Any, before: Any) -> dict[str, int]:
    """The controller client's requests the server counted since ``before`` (a
    ``request_counts`` table), as ``{"verb resource": n}``."""
    served = cluster.request_counts(user_agent=USER_AGENT) - before
    return {f"{verb} {resource}": n for (verb, resource, _), n in served.items()}


@asynccontextmanager
async def running_informers() -> AsyncIterator[InformerSet]:
    """An informer set started for the test and stopped after it."""
    informers = InformerSet()
    informers.start()
    try:
        yield informers
    finally:
        await informers.stop()


@dataclass
class Lookups:
    """``WatchedLookups`` under test, its informers and the re-renders it asked for."""

    informers: InformerSet
    watched: WatchedLookups
    served: dict[tuple[str, str], ResourceInfo]
    rerendered: list[set[str]] = field(default_factory=list)

    async def serve(self, kinds: Mapping[tuple[str, str], ResourceInfo]) -> None:
        """Discovery serves ``kinds`` from now on, and the lookups are told, as the
        controller tells them after a discovery change."""
        self.served.clear()
        self.served.update(kinds)
        await self.watched.kinds_changed()


@asynccontextmanager
async def watched_lookups(
    kube: KubeClient, *, served: Mapping[tuple[str, str], ResourceInfo] = CONFIGMAPS_SERVED
) -> AsyncIterator[Lookups]:
    """Lookups serving the kinds ``served`` maps (until :meth:`Lookups.serve` changes
    them), over informers started for them."""
    async with running_informers() as informers:
        kinds = dict(served)
        rerendered: list[set[str]] = []
        watched = WatchedLookups(client=kube, informers=informers,
                                 resource_for=resource_for(kinds),
                                 loop=asyncio.get_running_loop(), rerender=rerendered.append)
        yield Lookups(informers=informers, watched=watched, served=kinds,
                      rerendered=rerendered)
