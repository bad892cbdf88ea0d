"""Template lookups answered from watches: one object watched, no read once listed, re-render.

Runs against kubesim and a real API server alike; requests are counted by the
server (kubesim's own count, the real server's audit log).
"""

from __future__ import annotations

import asyncio
from typing import Any

from autopilot.kube.client import USER_AGENT, KubeClient
from tests.support.kube_resources import CONFIGMAPS
from tests.support.lookups import CONFIGMAPS_SERVED, configmap, served_since, watched_lookups
from tests.support.wait import eventually


async def test_a_configmap_lookup_watches_that_configmap_alone(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    await kube.create(CONFIGMAPS, configmap("wanted", namespace, "one"))
    await kube.create(CONFIGMAPS, configmap("unrelated", namespace, "x"))
    # A shared real server's audit log holds every earlier test's requests too.
    start = cluster.request_counts(user_agent=USER_AGENT)
    async with watched_lookups(kube) as rig:
        informers, rerendered = rig.informers, rig.rerendered

        def ask(asset: str, name: str = "wanted") -> str:
            return rig.watched.for_asset(asset).configmap_value(namespace, name, "k",
                                                                "default")

        assert await asyncio.to_thread(ask, "a") == "one"
        assert await asyncio.to_thread(ask, "b", "missing") == "default"
        [(name, inf)] = [(n, i) for n, i in informers.items() if "/wanted" in n]
        assert [o["metadata"]["name"] for o in inf.store.list()] == ["wanted"]
        # Only the two looked-up names are watched, never the namespace's other ConfigMaps.
        assert sorted(n.rpartition("/")[2] for n, _ in informers.items()) == [
            "missing", "wanted"]
        assert "managedFields" not in inf.store.list()[0]["metadata"]

        # Listed once (and each watch opened after its list): asking again reads nothing.
        await eventually(lambda: served_since(cluster, start).get("watch configmaps") == 2,
                         what="both watches open")
        before = cluster.request_counts(user_agent=USER_AGENT)
        assert await asyncio.to_thread(ask, "a") == "one"
        assert await asyncio.to_thread(ask, "b", "missing") == "default"
        assert served_since(cluster, before) == {}

        # A change of the looked-up object re-renders the asset that read it, and only it.
        await kube.patch(CONFIGMAPS, "wanted", {"data": {"k": "two"}}, namespace=namespace)
        await eventually(lambda: rerendered == [{"a"}], what="asset a re-rendered")
        assert await asyncio.to_thread(ask, "a") == "two"
        # The absent one appearing re-renders the asset that found it missing.
        await kube.create(CONFIGMAPS, configmap("missing", namespace, "three"))
        await eventually(lambda: rerendered[-1:] == [{"b"}], what="asset b re-rendered")
        assert await asyncio.to_thread(ask, "b", "missing") == "three"

        # A render that no longer reads it is no longer re-rendered by it.
        await asyncio.to_thread(rig.watched.for_asset, "a")
        seen = len(rerendered)
        await kube.patch(CONFIGMAPS, "wanted", {"data": {"k": "four"}}, namespace=namespace)
        await eventually(lambda: inf.store.get(namespace, "wanted")["data"]["k"] == "four",
                         what="the watch saw the edit")
        assert len(rerendered) == seen
        assert name in informers  # still watched (a later render may ask again)


async def test_a_kind_not_served_answers_absent_without_a_request(
    cluster: Any, kube: KubeClient
) -> None:
    async with watched_lookups(kube, served={}) as rig:
        before = cluster.request_counts(user_agent=USER_AGENT)

        def ask() -> tuple[bool, list[str], bool]:
            view = rig.watched.for_asset("a")
            return (view.object_exists("example.com/v1", "Widget", "w", "ns"),
                    view.crd_enum("widgets.example.com", "spec.x"),
                    view.recording_rule_exists("r"))

        assert await asyncio.to_thread(ask) == (False, [], False)
        assert rig.informers.items() == []
        assert served_since(cluster, before) == {}
        assert rig.rerendered == []


async def test_a_kind_coming_and_going_re_renders_the_assets_that_asked(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    await kube.create(CONFIGMAPS, configmap("wanted", namespace, "one"))
    async with watched_lookups(kube, served={}) as rig:

        def ask() -> str:
            return rig.watched.for_asset("a").configmap_value(namespace, "wanted", "k",
                                                              "default")

        assert await asyncio.to_thread(ask) == "default"  # not served: absent
        await rig.serve({})
        assert rig.rerendered == []  # nothing moved
        await rig.serve(CONFIGMAPS_SERVED)
        assert rig.rerendered == [{"a"}]
        assert await asyncio.to_thread(ask) == "one"
        assert len(rig.informers.items()) == 1
        await rig.serve({})
        assert rig.rerendered == [{"a"}, {"a"}] and rig.informers.items() == []


async def test_an_existence_lookup_nothing_covers_shares_the_watch_of_the_get(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    await kube.create(CONFIGMAPS, configmap("wanted", namespace, "one"))
    async with watched_lookups(kube, served={}) as rig:

        def ask() -> tuple[bool, str]:
            view = rig.watched.for_asset("a")
            return (view.object_exists("v1", "ConfigMap", "wanted", namespace),
                    view.configmap_value(namespace, "wanted", "k", "default"))

        assert await asyncio.to_thread(ask) == (False, "default")  # not served: absent
        await rig.serve(CONFIGMAPS_SERVED)
        assert rig.rerendered == [{"a"}]
        assert await asyncio.to_thread(ask) == (True, "one")
        assert [n for n, _ in rig.informers.items()] == [
            f"lookup/v1/ConfigMap/{namespace}/wanted"]
        # Its deletion re-renders the asset, which asked existence through that watch too.
        await kube.delete(CONFIGMAPS, "wanted", namespace=namespace)
        await eventually(lambda: rig.rerendered == [{"a"}, {"a"}], what="asset a re-rendered")
        assert await asyncio.to_thread(ask) == (False, "default")
