"""The generic runtime: informer events -> queue -> reconcile, only while leading."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from autopilot.kube.client import KubeClient
from autopilot.kube.informer import Informer, Selection
from autopilot.kube.resources import ResourceInfo
from autopilot.observability.metrics import Metrics
from autopilot.runtime.informer_set import InformerSet
from autopilot.runtime.leader import LeaderElector
from autopilot.runtime.workers import Runtime
from tests.support.kube_resources import CONFIGMAPS
from tests.support.wait import eventually

FAST = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.3}


def cm(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": {"a": "1"}}


def build(kube: KubeClient, namespace: str, reconcile: Any, **kw: Any) -> Runtime:
    informers = InformerSet()
    informer = informers.add(
        "cms", Informer(kube, CONFIGMAPS, select=Selection(namespace=namespace)))
    runtime = Runtime(reconcile=reconcile, informers=informers, **kw)
    informer.add_handler(lambda ev, obj, old: runtime.queue.add(obj["metadata"]["name"]))
    return runtime


@pytest.mark.real_ok
async def test_events_become_reconciles_and_failures_retry(
    kube: KubeClient, namespace: str
) -> None:
    seen: list[str] = []
    fail = {"flaky": 2}

    async def reconcile(key: str) -> None:
        seen.append(key)
        if fail.get(key):
            fail[key] -= 1
            raise RuntimeError("transient")

    metrics = Metrics()
    runtime = build(kube, namespace, reconcile, workers=2, metrics=metrics)
    assert runtime.readyz()[0] is False
    await runtime.start()
    try:
        await eventually(lambda: runtime.readyz()[0], timeout=10, what="ready")
        await kube.create(CONFIGMAPS, cm("steady", namespace))
        await kube.create(CONFIGMAPS, cm("flaky", namespace))
        await eventually(lambda: "steady" in seen and seen.count("flaky") == 3, timeout=10,
                         what="reconciles with retries")
        await eventually(lambda: runtime.queue.num_requeues("flaky") == 0,
                         what="backoff forgotten after success")
        assert runtime.healthz() == (True, "")
        assert metrics.value("virt_platform_workqueue_retries_total", name="autopilot") == 2
    finally:
        await runtime.stop()


@pytest.mark.real_ok
async def test_an_optional_informer_that_cannot_list_does_not_hold_readiness(
    kube: KubeClient, namespace: str
) -> None:
    """A lookup's watch of a kind the server does not serve: ready anyway, and says so."""
    async def reconcile(key: str) -> None:
        return None

    runtime = build(kube, namespace, reconcile, workers=1)
    absent = ResourceInfo("example.invalid", "v1", "Absent", "absents", True)
    lookup = runtime.informers.add("lookup/absent", Informer(kube, absent), optional=True)
    required = runtime.informers.add("required/absent", Informer(kube, absent))
    await runtime.start()
    try:
        await eventually(lambda: lookup.last_error is not None, timeout=10,
                         what="the optional informer's list failing")
        # The test's own ConfigMap informer may still be listing; then only the required one.
        await eventually(lambda: runtime.readyz() == (False, "caches not synced: required/absent"),
                         timeout=10, what="only the required informer holding readiness")
        await runtime.informers.remove("required/absent")
        await eventually(lambda: runtime.readyz() == (True, "ok"), timeout=10,
                         what="ready without the optional informer")
        assert not lookup.has_synced and not required.has_synced
    finally:
        await runtime.stop()


@pytest.mark.real_ok
async def test_stop_finishes_the_item_in_hand(kube: KubeClient, namespace: str) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def reconcile(key: str) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.append(key)

    runtime = build(kube, namespace, reconcile, workers=1)
    await runtime.start()
    await eventually(lambda: runtime.readyz()[0], timeout=10, what="ready")
    await kube.create(CONFIGMAPS, cm("slow", namespace))
    await asyncio.wait_for(started.wait(), 10)
    await runtime.stop(timeout=5)
    assert finished == ["slow"]


@pytest.mark.real_ok
async def test_only_the_leader_works_and_the_standby_takes_over(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    done: dict[str, list[str]] = {"a": [], "b": []}
    clients = [await KubeClient.create(str(cluster.kubeconfig)) for _ in range(2)]
    runtimes = {}
    for name, client in zip(("a", "b"), clients, strict=True):

        async def reconcile(key: str, name: str = name) -> None:
            done[name].append(key)

        elector = LeaderElector(client, namespace=namespace, identity=name, **FAST)
        runtimes[name] = build(client, namespace, reconcile, workers=1, elector=elector)
    try:
        await runtimes["a"].start()
        await eventually(lambda: runtimes["a"].workers_running, timeout=10, what="a leading")
        await runtimes["b"].start()
        await eventually(lambda: runtimes["b"].readyz()[0], timeout=10, what="standby ready")
        await kube.create(CONFIGMAPS, cm("one", namespace))
        await eventually(lambda: "one" in done["a"], timeout=10, what="leader reconciled")
        assert not runtimes["b"].workers_running
        assert done["b"] == []

        await runtimes["a"].stop()  # releases the Lease
        await eventually(lambda: runtimes["b"].workers_running, timeout=3, what="b leading")
        await kube.create(CONFIGMAPS, cm("two", namespace))
        await eventually(lambda: "two" in done["b"], timeout=10, what="new leader reconciled")
    finally:
        for runtime in runtimes.values():
            await runtime.stop()
        for client in clients:
            await client.close()


async def test_the_drained_hook_runs_once_when_the_first_burst_is_done() -> None:
    release = asyncio.Event()
    calls: list[int] = []

    async def reconcile(key: str) -> None:
        await release.wait()

    runtime = Runtime(reconcile=reconcile, workers=2,
                      on_leading=lambda: [runtime.queue.add(k) for k in ("a", "b", "c")],
                      on_drained=lambda: calls.append(runtime.processed))
    await runtime.start()
    await eventually(lambda: len(runtime.queue) == 1, timeout=5,
                     what="two keys in hand, one waiting")
    assert calls == []
    release.set()
    await eventually(lambda: calls, timeout=5, what="the drained hook")
    assert calls == [3]  # not after the first key: after the queue emptied
    runtime.queue.add("d")
    await eventually(lambda: runtime.processed == 4, timeout=5, what="a later key")
    assert calls == [3]  # once only
    await runtime.stop(timeout=2)
