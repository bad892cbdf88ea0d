"""A watcher resuming from its last resourceVersion across forced disconnects misses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp

from kubesim.controls import Controls
from tests.support.cluster import Cluster
from tests.support.wait import eventually

CHANGES = 1000


async def _writer(session: aiohttp.ClientSession, cluster: Cluster, ns: str,
                  written: dict[str, str], tick: asyncio.Event) -> None:
    for i in range(CHANGES):
        name = f"churn-{i % 10}"
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"churn": "yes"}}, "data": {"n": str(i)}}
        async with session.patch(
            f"{cluster.url}/api/v1/namespaces/{ns}/configmaps/{name}",
            params={"fieldManager": "churner", "force": "true"}, data=json.dumps(body),
            headers={"Content-Type": "application/apply-patch+yaml"},
        ) as resp:
            obj = await resp.json()
            assert resp.status in (200, 201), obj
        written[obj["metadata"]["resourceVersion"]] = str(i)
        if i % 50 == 25:
            tick.set()
        if i % 20 == 0:
            await asyncio.sleep(0)


async def _watcher(session: aiohttp.ClientSession, cluster: Cluster, ns: str,
                   seen: dict[str, str], stats: dict[str, int]) -> None:
    url = f"{cluster.url}/api/v1/namespaces/{ns}/configmaps"
    async with session.get(url, params={"labelSelector": "churn=yes"}) as resp:
        listing: dict[str, Any] = await resp.json()
    last = listing["metadata"]["resourceVersion"]
    for item in listing["items"]:
        seen[item["metadata"]["resourceVersion"]] = item["data"]["n"]
    while True:  # cancelled by the test once everything written was seen
        params = {"watch": "true", "resourceVersion": last, "allowWatchBookmarks": "true",
                  "labelSelector": "churn=yes", "timeoutSeconds": "5"}
        stats["connects"] = stats.get("connects", 0) + 1
        try:
            async with session.get(url, params=params) as resp:
                assert resp.status == 200
                async for line in resp.content:
                    event = json.loads(line)
                    assert event["type"] != "ERROR", event
                    rv = event["object"]["metadata"]["resourceVersion"]
                    if event["type"] == "BOOKMARK":
                        stats["bookmarks"] = stats.get("bookmarks", 0) + 1
                    else:
                        seen[rv] = event["object"]["data"]["n"]
                    last = rv
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError,
                aiohttp.ClientOSError):
            stats["drops"] = stats.get("drops", 0) + 1


async def _elsewhere(session: aiohttp.ClientSession, cluster: Cluster, ns: str) -> None:
    """Changes outside the watched selector: the stream learns of them only by bookmarks."""
    url = f"{cluster.url}/api/v1/namespaces/{ns}/configmaps/unwatched"
    for i in range(10_000):  # cancelled by the test
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "unwatched"},
                "data": {"n": str(i)}}
        async with session.patch(url, params={"fieldManager": "churner", "force": "true"},
                                 data=json.dumps(body),
                                 headers={"Content-Type": "application/apply-patch+yaml"}):
            pass
        await asyncio.sleep(0.5)


async def test_reconnecting_watcher_misses_none_of_1000_changes(cluster: Cluster,
                                                                faults: Controls) -> None:
    if cluster.sim is not None:
        cluster.sim.controls.bookmark_interval = 0.05
    ns = cluster.new_namespace()
    assert cluster._tls is not None
    connector = aiohttp.TCPConnector(ssl=cluster._tls)
    headers = {"Authorization": f"Bearer {cluster.token}"}
    written: dict[str, str] = {}
    seen: dict[str, str] = {}
    stats: dict[str, int] = {}
    done, tick = asyncio.Event(), asyncio.Event()
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        watcher = asyncio.create_task(_watcher(session, cluster, ns, seen, stats))

        async def saboteur() -> None:
            while not done.is_set():
                await tick.wait()
                tick.clear()
                faults.drop_watches()

        sabotage = asyncio.create_task(saboteur())
        await _writer(session, cluster, ns, written, tick)
        done.set()
        sabotage.cancel()
        # A real server bookmarks (shortly before a watch's timeout) only once versions
        # moved on since the watch began: keep them moving outside the selector.
        others = asyncio.create_task(_elsewhere(session, cluster, ns))
        try:
            await eventually(lambda: set(written) <= set(seen) and stats.get("bookmarks"),
                             timeout=30, what="every change seen and a bookmark")
        finally:
            for task in (watcher, sabotage, others):
                task.cancel()
            for task in (watcher, sabotage, others):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
    missing = sorted(set(written) - set(seen), key=int)
    assert not missing, f"{len(missing)} changes never seen, e.g. {missing[:5]}"
    assert all(seen[rv] == n for rv, n in written.items())
    assert stats.get("drops", 0) >= 5, stats
    assert stats.get("bookmarks", 0) >= 1, stats
