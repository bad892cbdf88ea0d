"""Reads of an object another informer already covers ask that cache: no census, GET or watch.

An informer covers an object when it selects it whatever its labels (no label
selector; no field selector but the object's name; its namespace or all). Runs
against kubesim and a real API server alike; requests are counted by the server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from autopilot import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.controller.adoption import AdoptionReads
from autopilot.controller.keyed_watches import Wanted
from autopilot.controller.tombstone_watch import TombstoneWatch, wanted_tombstone_watches
from autopilot.golden.tombstones import Tombstone
from autopilot.kube.client import USER_AGENT, KubeClient
from autopilot.kube.informer import Informer, Selection
from autopilot.runtime.informer_set import InformerSet
from tests.support.kube_resources import CONFIGMAPS
from tests.support.lookups import (
    configmap,
    resource_for,
    running_informers,
    served_since,
    watched_lookups,
)
from tests.support.wait import eventually

pytestmark = pytest.mark.real_ok


async def listed(cluster: Any, informers: InformerSet, name: str, kube: KubeClient,
                 select: Selection) -> Informer:
    """A started informer, listed and with its watch open (later counts leave it out)."""
    before = cluster.request_counts(user_agent=USER_AGENT)
    inf = informers.add(name, Informer(kube, CONFIGMAPS, select=select, name=name))
    assert await inf.wait_synced(timeout=20)
    await eventually(lambda: served_since(cluster, before).get("watch configmaps") == 1,
                     what=f"{name}'s watch open")
    return inf


def reduce_to_name(obj: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": obj["metadata"]["name"],
                         "namespace": obj["metadata"]["namespace"]}}


async def test_adoption_reads_ask_a_covering_cache_before_any_census(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    await kube.create(CONFIGMAPS, configmap("kept-whole", namespace))
    async with running_informers() as informers:
        # A label-selected cache covers nothing: the census still answers for it.
        await listed(cluster, informers, "labelled", kube, Selection(namespace=namespace,
                                                            label_selector="x=y"))
        await listed(cluster, informers, "whole", kube, Selection(
            namespace=namespace, field_selector="metadata.name=kept-whole"))
        await listed(cluster, informers, "reduced", kube, Selection(namespace=namespace,
                                                           transform=reduce_to_name))
        adoption = AdoptionReads(client=kube, informers=informers)
        before = cluster.request_counts(user_agent=USER_AGENT)
        live = await adoption.read(CONFIGMAPS, namespace=namespace, name="kept-whole")
        assert live is not None and live["data"] == {"k": "v"}
        live["data"]["k"] = "changed by the pass"  # a copy: the cache stays as listed
        assert informers.get("whole").store.get(namespace, "kept-whole")["data"] == {"k": "v"}
        assert await adoption.read(CONFIGMAPS, namespace=namespace, name="absent") is None
        assert served_since(cluster, before) == {}

        # Kept reduced: it tells absent from present, and a present one is read in full.
        await kube.create(CONFIGMAPS, configmap("reduced-only", namespace, "full"))
        await eventually(lambda: informers.get("reduced").store.get(namespace, "reduced-only"),
                         what="the reduced cache saw it")
        before = cluster.request_counts(user_agent=USER_AGENT)
        live = await adoption.read(CONFIGMAPS, namespace=namespace, name="reduced-only")
        assert live is not None and live["data"] == {"k": "full"}
        assert served_since(cluster, before) == {"get configmaps": 1}

        # In another namespace nothing covers it: one census, as before.
        other = AdoptionReads(client=kube, informers=informers)
        before = cluster.request_counts(user_agent=USER_AGENT)
        assert await other.read(CONFIGMAPS, namespace="kube-system", name="absent-x") is None
        assert served_since(cluster, before) == {"list configmaps": 1}


async def test_a_kind_wide_watch_keeps_only_the_names_it_was_given(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    for name in ("kept", "other-a", "other-b"):
        await kube.create(CONFIGMAPS, configmap(name, namespace))
    async with running_informers() as informers:
        heard: list[tuple[str, str]] = []
        keep = frozenset({(namespace, "kept"), (namespace, "later")})
        inf = Informer(kube, CONFIGMAPS, select=Selection(namespace=namespace, keep=keep),
                       name="kept")
        inf.add_handler(lambda event, obj, old: heard.append((event, obj["metadata"]["name"])))
        informers.add("kept", inf)
        assert await inf.wait_synced(timeout=20)
        assert inf.store.keys() == [(namespace, "kept")]
        await kube.create(CONFIGMAPS, configmap("later", namespace))
        await kube.create(CONFIGMAPS, configmap("other-c", namespace))
        await eventually(lambda: ("ADDED", "other-c") in heard, what="the watch heard both")
        assert sorted(inf.store.keys()) == [(namespace, "kept"), (namespace, "later")]
        await kube.delete(CONFIGMAPS, "later", namespace=namespace)
        await eventually(lambda: (namespace, "later") not in inf.store, what="delete seen")
        assert inf.store.keys() == [(namespace, "kept")]

        # It covers the names it keeps, and those alone: another one's absence from it
        # proves nothing, so an adoption read asks the server.
        adoption = AdoptionReads(client=kube, informers=informers)
        before = cluster.request_counts(user_agent=USER_AGENT)
        assert await adoption.read(CONFIGMAPS, namespace=namespace, name="later") is None
        assert served_since(cluster, before) == {}
        live = await adoption.read(CONFIGMAPS, namespace=namespace, name="other-a")
        assert live is not None and live["metadata"]["name"] == "other-a"
        assert served_since(cluster, before) == {"list configmaps": 1, "get configmaps": 1}


async def test_a_lookup_of_an_object_kept_whole_elsewhere_starts_no_watch(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    await kube.create(CONFIGMAPS, configmap("lent", namespace, "one"))
    async with watched_lookups(kube) as rig:
        await listed(cluster, rig.informers, "lender", kube, Selection(
            namespace=namespace, field_selector="metadata.name=lent"))
        before = cluster.request_counts(user_agent=USER_AGENT)
        ask = rig.watched.for_asset("a").configmap_value
        assert await asyncio.to_thread(ask, namespace, "lent", "k", "") == "one"
        assert [n for n, _ in rig.informers.items()] == ["lender"]
        assert served_since(cluster, before) == {}
        obj = await asyncio.to_thread(rig.watched.get_object, "v1", "ConfigMap", "lent", namespace)
        assert obj is not None and "managedFields" not in obj["metadata"]

        # The lender's events of that object re-render the asset that read it.
        await kube.patch(CONFIGMAPS, "lent", {"data": {"k": "two"}}, namespace=namespace)
        await eventually(lambda: rig.rerendered == [{"a"}], what="asset a re-rendered")
        assert await asyncio.to_thread(ask, namespace, "lent", "k", "") == "two"
        # Another name is not covered: that one gets a watch of its own.
        assert await asyncio.to_thread(ask, namespace, "unlent", "k", "d") == "d"
        assert sorted(n.rpartition("/")[2] for n, _ in rig.informers.items()) == [
            "lender", "unlent"]

        # The lender stops (its kind moved): the asset is rendered again, and asking
        # again starts the lookup's own watch.
        renders = len(rig.rerendered)
        await rig.informers.remove("lender")
        await rig.watched.kinds_changed()
        assert rig.rerendered[renders:] == [{"a"}]
        assert await asyncio.to_thread(ask, namespace, "lent", "k", "") == "two"
        assert sorted(n.rpartition("/")[2] for n, _ in rig.informers.items()) == ["lent", "unlent"]


def tombstone(name: str, namespace: str) -> Tombstone:
    return Tombstone(api_version="v1", kind="ConfigMap", name=name, namespace=namespace,
                     labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE})


async def test_tombstones_read_a_whole_cache_else_share_one_watch_of_their_kind(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    """As the controller's watches start them: the wanted informers, then the sweep's view."""
    await kube.create(CONFIGMAPS, configmap("held-whole", namespace))
    await kube.create(CONFIGMAPS, configmap("tomb-a", namespace))
    await kube.create(CONFIGMAPS, configmap("bystander", namespace))
    swept: list[str] = []
    others: dict[str, Wanted] = {"whole": (CONFIGMAPS, Selection(
        namespace=namespace, field_selector="metadata.name=held-whole"),
        lambda *_: None)}
    tombs = [tombstone(n, namespace) for n in ("held-whole", "tomb-a", "tomb-b")]
    wanted, sweep_on = wanted_tombstone_watches(
        tombs, resource_for=resource_for(),
        handler=lambda event, obj, old: swept.append(obj["metadata"]["name"]), others=others)
    started = {n: w for n, w in wanted.items() if w[0] is not None}
    # The object kept whole elsewhere has no watch of its own; the other two share one.
    assert list(started) == ["tombstones/v1/ConfigMap"]
    assert list(sweep_on) == ["whole"]
    async with running_informers() as informers:
        for name, (res, select, handler) in {**others, **started}.items():
            assert res is not None
            inf = Informer(kube, res, select=select, name=name)
            inf.add_handler(sweep_on.get(name, handler))
            informers.add(name, inf)
        for _, inf in informers.items():
            assert await inf.wait_synced(timeout=20)
        seen = TombstoneWatch(informers, resource_for=resource_for())
        whole = seen.seen(tombs[0])
        assert whole is not None and whole[0] is not None
        assert set(whole[0]["metadata"]) >= {"name", "labels", "annotations"}
        assert "data" not in whole[0]  # reduced as the sweep reads it
        assert [s[0]["metadata"]["name"] if s and s[0] else s for s in map(seen.seen, tombs[1:])
                ] == ["tomb-a", (None,)]
        assert informers.get("tombstones/v1/ConfigMap").store.keys() == [(namespace, "tomb-a")]
        assert sorted(swept) == ["held-whole", "tomb-a"]  # the first lists: no bystander

        # Changes of the tombstoned objects, and of them alone, reach the sweep.
        await kube.create(CONFIGMAPS, configmap("tomb-b", namespace))
        await kube.patch(CONFIGMAPS, "bystander", {"data": {"k": "x"}}, namespace=namespace)
        await kube.patch(CONFIGMAPS, "held-whole", {"data": {"k": "x"}}, namespace=namespace)
        await eventually(lambda: swept.count("held-whole") == 2, what="held-whole swept")
        await eventually(lambda: "tomb-b" in swept, what="tomb-b swept")
        assert "bystander" not in swept


async def test_an_existence_lookup_reads_a_cache_that_keeps_names_only(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    await kube.create(CONFIGMAPS, configmap("named", namespace, "whole"))
    async with watched_lookups(kube) as rig:
        await listed(cluster, rig.informers, "names", kube, Selection(
            namespace=namespace, transform=reduce_to_name))
        before = cluster.request_counts(user_agent=USER_AGENT)
        exists = rig.watched.for_asset("a").object_exists
        assert await asyncio.to_thread(exists, "v1", "ConfigMap", "named", namespace) is True
        assert await asyncio.to_thread(exists, "v1", "ConfigMap", "absent", namespace) is False
        assert [n for n, _ in rig.informers.items()] == ["names"]
        assert served_since(cluster, before) == {}
        # Its appearing re-renders the asset that found it absent.
        await kube.create(CONFIGMAPS, configmap("absent", namespace))
        await eventually(lambda: rig.rerendered == [{"a"}], what="asset a re-rendered")

        # A get needs the object whole: the names cannot answer it, its own watch does,
        # and an existence question outside the names' namespace shares such a watch.
        got = await asyncio.to_thread(rig.watched.get_object, "v1", "ConfigMap", "named", namespace)
        assert got is not None and got["data"] == {"k": "whole"}
        assert await asyncio.to_thread(exists, "v1", "ConfigMap", "elsewhere", "default") is False
        assert sorted(n for n, _ in rig.informers.items()) == [
            "lookup/v1/ConfigMap/default/elsewhere", f"lookup/v1/ConfigMap/{namespace}/named",
            "names"]
