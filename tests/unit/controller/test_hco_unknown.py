"""/debug/features tells "no HyperConverged" apart from "could not look".

A controller whose lists are refused (401, 403) or whose API server is away has an
empty cache; answering "not found" would send the SRE after a missing HCO that
exists. The informer remembers why its last attempt failed, the cache says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from autopilot.controller.cache import HCO_INFORMER, ClusterCache
from autopilot.kube.discovery import RestMapper
from autopilot.kube.errors import ApiError
from autopilot.kube.informer import Informer, Selection, WatchSettings
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.wellknown import HCO_NAME
from autopilot.runtime.informer_set import InformerSet
from tests.support.wait import eventually

HCOS = ResourceInfo("hco.kubevirt.io", "v1beta1", "HyperConverged", "hyperconvergeds", True)
NS = "openshift-cnv"


REFUSED = ApiError(403, "Forbidden", "hyperconvergeds.hco.kubevirt.io is forbidden")


class RefusingThenAllowing:
    """A client whose lists and watches are refused with 403 until ``allow`` is set."""

    def __init__(self) -> None:
        self.allow = asyncio.Event()

    async def list(self, res: ResourceInfo, **_: Any) -> tuple[list[dict[str, Any]], str]:
        if not self.allow.is_set():
            raise REFUSED
        hco = {"apiVersion": "hco.kubevirt.io/v1beta1", "kind": "HyperConverged",
               "metadata": {"name": HCO_NAME, "namespace": NS, "resourceVersion": "7"}}
        return [hco], "7"

    @asynccontextmanager
    async def watch_stream(self, *_: Any, **__: Any) -> AsyncIterator[AsyncIterator[Any]]:
        if not self.allow.is_set():
            raise REFUSED  # a streaming list too: the informer then lists, refused again
        yield _quiet()


async def _quiet() -> AsyncIterator[Any]:
    await asyncio.Event().wait()  # a stream that stays open and quiet
    yield


class Informers:
    """The one lookup ClusterCache makes of the informer set."""

    def __init__(self, informers: dict[str, Informer]) -> None:
        self._informers = informers

    def get(self, name: str) -> Informer | None:
        return self._informers.get(name)


def cache(informers: dict[str, Informer]) -> ClusterCache:
    fake: Any = Informers(informers)
    set_: InformerSet = fake
    mapper: RestMapper = fake  # never asked: only the HCO is read
    return ClusterCache(informers=set_, mapper=mapper, namespace=NS)


def test_an_unwatched_hco_is_unknown_not_missing() -> None:
    answer = cache({}).hco_unknown()
    assert answer is not None and answer.startswith("unknown: ")
    assert "not watched yet" in answer


async def test_a_refused_list_is_named_then_cleared_once_listed() -> None:
    client = RefusingThenAllowing()
    fake: Any = client
    informer = Informer(fake, HCOS, select=Selection(namespace=NS), name=HCO_INFORMER,
                        settings=WatchSettings(backoff_initial=0.01, backoff_max=0.05))
    view = cache({HCO_INFORMER: informer})
    assert view.hco_unknown() == "unknown: the HyperConverged could not be listed yet (listing)"
    task = asyncio.create_task(informer.run())
    try:
        await eventually(lambda: informer.last_error is not None, timeout=5)
        assert view.hco_unknown() == (
            "unknown: the HyperConverged could not be listed yet "
            "(403 Forbidden: hyperconvergeds.hco.kubevirt.io is forbidden)")
        assert view.hco() is None
        client.allow.set()
        assert await informer.wait_synced(timeout=5)
        assert view.hco_unknown() is None and view.hco() is not None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
