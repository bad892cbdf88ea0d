"""An informer starts with one streaming list and follows its stream; a server that
cannot stream lists gets list and watch instead."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from autopilot.kube.client import USER_AGENT, KubeClient
from autopilot.kube.informer import Informer, Selection, WatchSettings
from autopilot.observability.metrics import Metrics
from kubesim.controls import Controls
from tests.support.cluster import Cluster
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

WATCHES, LISTS = ("watch", "configmaps", False), ("list", "configmaps", False)
FALLBACK = "streaming lists not served; listing, then watching"


@pytest.mark.real_ok
async def test_an_informer_starts_with_one_streaming_list_and_follows_its_stream(
    cluster: Cluster, kube: KubeClient, namespace: str
) -> None:
    """One request (a watch that starts with the current state) syncs the cache, and the
    same stream brings the changes after it: counted by the server (audit log)."""
    for name in ("a", "b", "c"):
        await kube.create(CONFIGMAPS, cm(name, namespace, "1"))
    await kube.create(CONFIGMAPS, cm("unselected", namespace, "1", labelled=False))
    metrics = Metrics()
    informer = Informer(kube, CONFIGMAPS, metrics=metrics,
                        select=Selection(namespace=namespace, label_selector=LABEL))
    mirror = Mirror()
    informer.add_handler(mirror)
    before = cluster.request_counts(user_agent=USER_AGENT)  # a shared server's past
    async with running(informer):
        assert await informer.wait_synced(20)
        assert sorted(mirror.objects) == ["a", "b", "c"] and mirror.calls == 3
        await kube.patch(CONFIGMAPS, "b", {"data": {"v": "2"}}, namespace=namespace)
        await kube.delete(CONFIGMAPS, "c", namespace=namespace)
        await kube.create(CONFIGMAPS, cm("d", namespace, "1"))
        await eventually(lambda: sorted(mirror.objects) == ["a", "b", "d"] and (
            informer.store.get(namespace, "b") or {}).get("data") == {"v": "2"},
            timeout=20, what="the changes after the sync, from the same stream")
        counts = cluster.request_counts(user_agent=USER_AGENT) - before
        assert (counts[WATCHES], counts[LISTS]) == (1, 0), counts
        assert informer.restarts == 0 and informer.streaming_lists
        assert cache_state(informer) == await server_state(kube, namespace)
    assert metrics.value("virt_platform_watch_relists_total", kind="ConfigMap") == 1


@pytest.mark.fresh_server("compacts etcd: the reconnect gets 410", compaction=True)
@pytest.mark.timeout(120)
async def test_after_a_410_one_streaming_list_relists(
    cluster: Any, faults: Controls, kube: KubeClient, namespace: str
) -> None:
    """Every attempt of the loop is one request: the watch that got 410 and the streaming
    list after it, never a list."""
    for name in ("a", "b"):
        await kube.create(CONFIGMAPS, cm(name, namespace, "1"))
    informer = Informer(kube, CONFIGMAPS, select=Selection(namespace=namespace,
                                                           label_selector=LABEL),
                        settings=WatchSettings(backoff_initial=0.05, backoff_max=0.4))
    mirror = Mirror()
    informer.add_handler(mirror)
    async with running(informer):
        assert await informer.wait_synced(20)
        # The stream holds back a write, the history is compacted past it, the stream is
        # dropped: the informer resumes from a version the server no longer has. (The
        # dropped stream stays silenced: un-silencing it could let the write out before
        # the drop; the streams opened after it are not silenced.)
        faults.silence_watches(True)
        await kube.create(CONFIGMAPS, cm("held-back", namespace, "1"))
        faults.compact()
        faults.drop_watches()
        await eventually(lambda: informer.relists >= 2 and "held-back" in mirror.objects,
                         timeout=30, what="a relist after the 410")
        counts = faults.count_table()
        assert counts[LISTS] == 0, counts
        # The open stream, and one request for each attempt that ended.
        assert counts[WATCHES] == informer.restarts + 1, (counts, informer.restarts)
        assert informer.streaming_lists
        assert cache_state(informer) == await server_state(kube, namespace)
        assert mirror.objects == cache_state(informer)


@pytest.mark.real_ok
@pytest.mark.parametrize("mode", ["refused", "ignored"])
async def test_an_informer_falls_back_to_list_and_watch_for_good(
    cluster: Any, faults: Controls, kube: KubeClient, namespace: str, mode: str
) -> None:
    """A server that refuses the parameters (the WatchList gate off), or ignores them and
    never ends the initial state (one that knows neither): after the refusal, or the
    bounded wait, the informer lists and watches, says so once, and never half-fills
    its cache from the stream it gave up."""
    for name in ("a", "b"):
        await kube.create(CONFIGMAPS, cm(name, namespace, "1"))
    faults.set_streaming_lists(mode)
    informer = Informer(kube, CONFIGMAPS, select=Selection(namespace=namespace,
                                                           label_selector=LABEL),
                        settings=WatchSettings(list_timeout=5.0))
    mirror = Mirror()
    informer.add_handler(mirror)
    with capture_logs() as logs:
        async with running(informer):
            assert await informer.wait_synced(30)
            # Each object reached the handlers once: from the list, not the given-up stream.
            assert sorted(mirror.objects) == ["a", "b"] and mirror.calls == 2
            assert not informer.streaming_lists
            await kube.create(CONFIGMAPS, cm("c", namespace, "1"))
            await eventually(lambda: "c" in mirror.objects, timeout=20,
                             what="a change through the fallback watch")
            counts = faults.count_table()
            assert (counts[WATCHES], counts[LISTS]) == (2, 1), counts
    said = [entry for entry in logs if entry["event"] == FALLBACK]
    assert len(said) == 1 and said[0]["kind"] == "ConfigMap", said
    assert said[0]["log_level"] == "info"
