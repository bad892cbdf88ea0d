"""Informers end equal to the server and deliver every change, whatever the stream does."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any, cast

import pytest

from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.discovery import RestMapper
from autopilot.kube.informer import STORAGE_INITIALIZING, Informer, Selection, WatchSettings
from autopilot.observability.metrics import Metrics
from kubesim.controls import Controls
from tests.support.informer_tools import (
    LABEL,
    Mirror,
    cache_state,
    cm,
    running,
    server_state,
)
from tests.support.kube_resources import CONFIGMAPS
from tests.support.wait import eventually
from tests.unit.kube.test_discovery_events import CRDS, discovered, widget_crd


async def churn(kube: KubeClient, namespace: str, stop: asyncio.Event) -> int:
    """Create, update, relabel and delete ConfigMaps until told to stop."""
    rng = random.Random(7)
    alive: set[str] = set()
    n = 0
    while not stop.is_set():
        n += 1
        action = rng.random()
        try:
            if action < 0.45 or not alive:
                name = f"cm-{n}"
                await kube.create(CONFIGMAPS, cm(name, namespace, str(n)))
                alive.add(name)
            elif action < 0.75:
                name = rng.choice(sorted(alive))
                await kube.patch(CONFIGMAPS, name, {"data": {"v": str(n)}}, namespace=namespace)
            elif action < 0.85:
                # Moving out of the selector is a delete for a selected watch.
                name = rng.choice(sorted(alive))
                await kube.patch(CONFIGMAPS, name, {"metadata": {"labels": {"app": "other"}}},
                                 namespace=namespace)
                alive.discard(name)
            else:
                name = rng.choice(sorted(alive))
                await kube.delete(CONFIGMAPS, name, namespace=namespace)
                alive.discard(name)
        except (OSError, TimeoutError):
            pass  # injected faults may hit the writer too; the server state is the truth
        await asyncio.sleep(0.01)
    return n


@pytest.mark.fresh_server("compacts etcd: reconnects get 410", compaction=True)
@pytest.mark.timeout(180)
async def test_cache_converges_through_drops_410s_silence_and_500s(
    cluster: Any, faults: Controls, kube: KubeClient, namespace: str
) -> None:
    metrics = Metrics()
    informer = Informer(
        kube, CONFIGMAPS, select=Selection(namespace=namespace, label_selector=LABEL),
        metrics=metrics, settings=WatchSettings(inactivity_timeout=1.0, backoff_initial=0.05,
                                                backoff_max=0.4, healthy_after=0.3),
    )
    mirror = Mirror()
    informer.add_handler(mirror)
    stop = asyncio.Event()
    async with running(informer):
        assert await informer.wait_synced(20)
        writer = asyncio.create_task(churn(kube, namespace, stop))

        # 1. the connection is dropped every 2 s
        for _ in range(2):
            await asyncio.sleep(2.0)
            faults.drop_watches()
        # 2. every reconnect gets 410: the stream holds back the writes of 0.7 s (less
        # than the 1 s watchdog), the history is compacted past them, and the stream is
        # dropped, so the informer resumes from a version the server no longer has.
        for round_ in range(3):
            before = informer.relists
            # The watch reopens right after the relist; silence only an open stream.
            await asyncio.sleep(0.3)
            faults.silence_watches(True)
            # A write the stream holds back, whatever pace the writer keeps on a loaded
            # machine.
            await kube.create(CONFIGMAPS, cm(f"held-back-{round_}", namespace, "1"))
            await asyncio.sleep(0.5)
            faults.compact()
            faults.drop_watches()
            faults.silence_watches(False)
            try:
                await eventually(lambda b=before: informer.relists > b, timeout=20,
                                 what=f"a relist after compacted reconnect {round_ + 1}")
            except AssertionError as exc:  # seen once under load: say where the informer was
                raise AssertionError(
                    f"{exc}; informer at {informer.resource_version}, {informer.restarts} "
                    f"restarts, last error "
                    f"{informer.last_error!r}") from None
        # 3. the stream goes silent (the watchdog is 1 s here), new streams too
        faults.silence_watches(True, new_streams=True)
        await asyncio.sleep(2.5)
        faults.silence_watches(False)
        # 4. relists (streaming lists: watches) answer 500 for a while
        faults.inject_errors(status=500, verb="watch", resource="configmaps", count=6)
        faults.compact()
        faults.drop_watches()
        await asyncio.sleep(1.5)

        stop.set()
        writes = await writer
        faults.clear_errors()
        truth = await server_state(kube, namespace)
        await eventually(lambda: cache_state(informer) == truth, timeout=20,
                         what=f"cache equal to the server ({len(truth)} objects)")
        assert mirror.objects == truth, "handlers missed a change"

    assert writes > 10, "the writer barely ran"
    assert informer.relists >= 3, f"only {informer.relists} relists"
    assert metrics.value("virt_platform_watch_relists_total", kind="ConfigMap") == informer.relists
    assert (metrics.value("virt_platform_watch_restarts_total", kind="ConfigMap") or 0) >= 5


@pytest.mark.real_ok
async def test_relist_synthesises_missed_changes(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    """Changes made while nobody watched arrive as add/update/delete after a relist."""
    for name in ("keep", "change", "drop"):
        await kube.create(CONFIGMAPS, cm(name, namespace, "1"))
    informer = Informer(kube, CONFIGMAPS,
                        select=Selection(namespace=namespace, label_selector=LABEL))
    events: list[tuple[str, str]] = []
    informer.add_handler(lambda ev, obj, old: events.append((ev, obj["metadata"]["name"])))
    await informer._relist()
    assert sorted(events) == [("ADDED", "change"), ("ADDED", "drop"), ("ADDED", "keep")]
    events.clear()
    await kube.patch(CONFIGMAPS, "change", {"data": {"v": "2"}}, namespace=namespace)
    await kube.delete(CONFIGMAPS, "drop", namespace=namespace)
    await kube.create(CONFIGMAPS, cm("new", namespace, "1"))
    await informer._relist()
    assert sorted(events) == [("ADDED", "new"), ("DELETED", "drop"), ("MODIFIED", "change")]
    assert informer.has_synced
    assert informer.store.get(namespace, "change")["data"] == {"v": "2"}  # type: ignore[index]


@pytest.mark.real_ok
async def test_transform_applies_before_caching(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    await kube.create(CONFIGMAPS, cm("big", namespace, "x" * 1000))

    def shrink(obj: dict[str, Any]) -> dict[str, Any]:
        return {**obj, "data": {"size": str(len(obj["data"]["v"]))}}

    informer = Informer(kube, CONFIGMAPS, select=Selection(namespace=namespace, transform=shrink))
    async with running(informer):
        assert await informer.wait_synced(10)
        assert informer.store.get(namespace, "big")["data"] == {"size": "1000"}  # type: ignore[index]
        await kube.patch(CONFIGMAPS, "big", {"data": {"v": "yy"}}, namespace=namespace)
        await eventually(
            lambda: (informer.store.get(namespace, "big") or {}).get("data") == {"size": "2"},
            what="transformed update",
        )


@pytest.mark.real_ok
@pytest.mark.parametrize("streaming", [True, False], ids=["streaming-list", "list-then-watch"])
async def test_a_metadata_only_informer_is_sent_no_object_body(
    kube: KubeClient, namespace: str, streaming: bool
) -> None:
    """``PartialObjectMetadata`` lists, streaming lists and watch events: the server sends
    each object's metadata alone, and the cache types it as the resource's kind."""
    await kube.create(CONFIGMAPS, cm("first", namespace, "x" * 1000))
    informer = Informer(kube, CONFIGMAPS, select=Selection(namespace=namespace,
                                                           metadata_only=True),
                        settings=WatchSettings(streaming_lists=streaming))
    mirror = Mirror()
    informer.add_handler(mirror)
    async with running(informer):
        assert await informer.wait_synced(20)
        first = informer.store.get(namespace, "first")
        assert first is not None and "data" not in first, first
        assert (first["apiVersion"], first["kind"]) == ("v1", "ConfigMap")
        assert first["metadata"]["labels"] == {"app": "chaos"}
        await kube.create(CONFIGMAPS, cm("later", namespace, "y"))
        await kube.patch(CONFIGMAPS, "first", {"metadata": {"labels": {"app": "moved"}}},
                         namespace=namespace)
        await eventually(lambda: (informer.store.get(namespace, "first") or {}).get(
            "metadata", {}).get("labels") == {"app": "moved"} and "later" in mirror.objects,
            timeout=20, what="the changes, as metadata")
        later = informer.store.get(namespace, "later")
        assert later is not None and "data" not in later and later["kind"] == "ConfigMap"
        assert informer.streaming_lists is streaming and informer.restarts == 0
        assert cache_state(informer) == {
            o["metadata"]["name"]: o["metadata"]["resourceVersion"]
            for o in (await kube.list(CONFIGMAPS, namespace=namespace))[0]}


@pytest.mark.real_ok
@pytest.mark.timeout(180)
async def test_label_selected_cache_holds_only_owned_objects(
    kube: KubeClient, namespace: str
) -> None:
    """2,000 unrelated ConfigMaps, 10 labelled: the cache holds the 10.

    The selection is the server's (the list and watch carry the label selector), so
    the noise only has to outnumber the owned objects many times over; the cost of
    20,000 of them is the benchmarks' business (bench/RESULTS.md, Scale)."""
    total, owned = 2_000, 10
    sem = asyncio.Semaphore(48)

    async def make(i: int) -> None:
        labels = {"platform.kubevirt.io/managed-by": "virt-platform-autopilot"} if (
            i % (total // owned) == 0) else {"noise": "yes"}
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"n{i}", "namespace": namespace, "labels": labels},
                "data": {"k": "v" * 64}}
        async with sem:
            await kube.create(CONFIGMAPS, body)

    await asyncio.gather(*(make(i) for i in range(total)))
    informer = Informer(kube, CONFIGMAPS, select=Selection(
        namespace=namespace,
        label_selector="platform.kubevirt.io/managed-by=virt-platform-autopilot",
    ))
    async with running(informer):
        assert await informer.wait_synced(30)
        assert len(informer.store) == owned
        assert sorted(informer.store.keys()) == sorted(
            (namespace, f"n{i}") for i in range(0, total, total // owned)
        )


def test_a_filling_watch_cache_is_polled_sooner_than_its_retry_after() -> None:
    """429 "storage is (re)initializing" (Retry-After 1): short polls, then the full hint."""
    informer = Informer(cast(KubeClient, None), CONFIGMAPS)
    filling = ApiError(429, "TooManyRequests", STORAGE_INITIALIZING, retry_after=1.0)
    polls = [informer._retry_delay(filling) for _ in range(4)]
    assert polls == [0.05, 0.1, 0.2, 0.4]
    assert informer._retry_delay(filling) >= 1.0  # the server's hint once the polls are spent


def test_any_other_429_waits_its_full_retry_after() -> None:
    informer = Informer(cast(KubeClient, None), CONFIGMAPS)
    shed = ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                    retry_after=7.0)
    assert informer._retry_delay(shed) >= 7.0
    assert informer._retry_delay(shed) >= 7.0


@pytest.mark.real_ok
async def test_a_label_selected_informer_syncs_on_a_freshly_created_crd(
    cluster: Any, faults: Controls, kube: KubeClient
) -> None:
    """The first selected (streaming) list of a new custom resource meets a filling watch cache.

    A real server may answer it with 429 "storage is (re)initializing", or may already
    be done filling: the fault controls (kubesim's, or the proxy's before a real
    server) make sure the answer comes, so the retry delay is checked in both worlds.
    The informer retries sooner than the one second the header asks for, syncs, and
    then follows the stream.
    """
    group = f"t{uuid.uuid4().hex[:8]}.informer.test"
    await kube.create(CRDS, widget_crd(group))
    widgets = await eventually(lambda: discovered(RestMapper(kube), f"{group}/v1", "Widget"),
                               timeout=15, what="the new kind served")
    # The informer's first request is a streaming list: a watch.
    faults.inject_errors(status=429, verb="watch", resource="widgets", retry_after=1, count=2,
                         message=STORAGE_INITIALIZING)
    informer = Informer(kube, widgets, select=Selection(label_selector="app=widgets"))
    async with running(informer):
        assert await informer.wait_synced(30)
        assert informer.last_retry_delay is not None, "no 429 reached the informer"
        assert informer.last_retry_delay < 1.0
        await kube.create(widgets, {"apiVersion": f"{group}/v1", "kind": "Widget",
                                    "metadata": {"name": "w", "labels": {"app": "widgets"}}})
        await eventually(lambda: informer.store.get(None, "w") is not None,
                         what="the widget seen through the watch")
