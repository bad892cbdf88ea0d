"""Leader election on a Lease: one leader, fast hand-over, stepping down, kill -9."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from autopilot.kube.client import KubeClient
from autopilot.observability.metrics import Metrics
from autopilot.runtime.leader import LeaderElector
from autopilot.runtime.lease import LEASE_NAME, LEASES
from kubesim.controls import Controls
from tests.support.wait import eventually

MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
# Short durations keep the tests quick; the production defaults are 15/10/2 s.
FAST = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.3}


@contextlib.asynccontextmanager
async def electors(
    cluster: Any, namespace: str, n: int, **kw: Any
) -> AsyncIterator[list[tuple[LeaderElector, asyncio.Task[None]]]]:
    clients = [await KubeClient.create(str(cluster.kubeconfig)) for _ in range(n)]
    out = []
    for i, client in enumerate(clients):
        elector = LeaderElector(client, namespace=namespace, identity=f"replica-{i}",
                                **{**FAST, **kw})
        out.append((elector, asyncio.create_task(elector.run())))
    try:
        yield out
    finally:
        for _, task in out:
            task.cancel()
        for _, task in out:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in clients:
            await client.close()


async def lease(kube: KubeClient, namespace: str) -> dict[str, Any]:
    return await kube.request("GET", LEASES.path(namespace=namespace, name=LEASE_NAME))


@pytest.mark.real_ok
async def test_exactly_one_leads_and_cancel_hands_over_fast(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    async with electors(cluster, namespace, 2) as pair:
        await eventually(lambda: any(e.is_leader for e, _ in pair), timeout=10, what="a leader")
        # Several renew periods: never two leaders.
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert sum(e.is_leader for e, _ in pair) == 1
            await asyncio.sleep(0.05)
        leader, task = next((e, t) for e, t in pair if e.is_leader)
        other = next(e for e, _ in pair if e is not leader)

        spec = (await lease(kube, namespace))["spec"]
        assert spec["holderIdentity"] == leader.identity
        assert MICRO_TIME.match(spec["renewTime"]), spec["renewTime"]
        assert MICRO_TIME.match(spec["acquireTime"])
        assert spec["leaseDurationSeconds"] == 3

        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        released_at = time.monotonic()
        assert not leader.is_leader
        await eventually(lambda: other.is_leader, timeout=3, what="the standby leading")
        assert time.monotonic() - released_at < 3
        spec = (await lease(kube, namespace))["spec"]
        assert spec["holderIdentity"] == other.identity
        assert spec["leaseTransitions"] >= 1


@pytest.mark.real_ok
async def test_release_clears_holder(cluster: Any, kube: KubeClient, namespace: str) -> None:
    metrics = Metrics()
    async with electors(cluster, namespace, 1, metrics=metrics) as one:
        elector, task = one[0]
        assert await elector.wait_leading(10)
        assert metrics.value("virt_platform_leader_status") == 1
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert metrics.value("virt_platform_leader_status") == 0
    spec = (await lease(kube, namespace))["spec"]
    assert not spec.get("holderIdentity")
    assert spec["leaseDurationSeconds"] == 1


@pytest.mark.real_ok
async def test_release_frees_the_lease_after_a_renewal_it_did_not_see(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    """A renewal cancelled in flight can still land on the server, leaving the elector's
    copy of the Lease one version behind; stopping must release the Lease all the same,
    or the standby waits out the whole lease duration."""
    # A long retry period: no renewal of its own refreshes the elector's copy meanwhile.
    slow = {"lease_duration": 30.0, "renew_deadline": 20.0, "retry_period": 10.0}
    async with electors(cluster, namespace, 1, **slow) as one:
        elector, task = one[0]
        assert await elector.wait_leading(10)
        behind = await lease(kube, namespace)
        behind.setdefault("metadata", {})["annotations"] = {"test.kubevirt.io/renewed": "1"}
        path = LEASES.path(namespace=namespace, name=LEASE_NAME)
        await kube.request("PUT", path, body=behind)  # the renewal the elector never saw
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert not elector.is_leader
    spec = (await lease(kube, namespace))["spec"]
    assert not spec.get("holderIdentity"), spec
    assert spec["leaseDurationSeconds"] == 1


@pytest.mark.parametrize("refusal", [{"status": 503}, {"reset": True}],
                         ids=["503", "connection-reset"])
async def test_leader_that_cannot_renew_steps_down_and_campaigns_again(
    cluster: Any, faults: Controls, kube: KubeClient, namespace: str, refusal: dict[str, Any]
) -> None:
    changes: list[bool] = []
    async with electors(cluster, namespace, 1, on_change=changes.append) as one:
        elector, _ = one[0]
        assert await elector.wait_leading(10)
        faults.inject_errors(resource="leases", **refusal)
        cut_at = time.monotonic()
        await eventually(lambda: not elector.is_leader, timeout=5, what="stepping down")
        # Not before the renew deadline since the last good renewal.
        assert time.monotonic() - cut_at <= FAST["renew_deadline"] + 1.0
        assert changes == [True, False]
        faults.clear_errors()
        await eventually(lambda: elector.is_leader, timeout=10, what="leading again")
        assert changes == [True, False, True]


async def test_renew_calls_are_bounded_when_the_server_hangs(
    cluster: Any, faults: Controls, kube: KubeClient, namespace: str
) -> None:
    async with electors(cluster, namespace, 1) as one:
        elector, _ = one[0]
        assert await elector.wait_leading(10)
        faults.inject_errors(status=500, resource="leases", hang=True)
        try:
            await eventually(lambda: not elector.is_leader, timeout=5, what="stepping down")
        finally:
            faults.clear_errors()


@pytest.mark.real_ok
async def test_killed_leader_is_replaced_within_lease_duration(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    async with electors(cluster, namespace, 2, release_on_cancel=False) as pair:
        await eventually(lambda: any(e.is_leader for e, _ in pair), timeout=10, what="a leader")
        leader, task = next((e, t) for e, t in pair if e.is_leader)
        other = next(e for e, _ in pair if e is not leader)
        task.cancel()  # no release: like kill -9
        with contextlib.suppress(asyncio.CancelledError):
            await task
        killed_at = time.monotonic()
        limit = FAST["lease_duration"] + FAST["retry_period"] + 1.0
        await eventually(lambda: other.is_leader, timeout=limit + 2, what="takeover")
        took = time.monotonic() - killed_at
        assert took <= limit, f"takeover took {took:.1f}s"
        assert took >= FAST["lease_duration"] - FAST["retry_period"] * 2, "took over too early"


def test_identity_is_unique_per_process() -> None:
    from autopilot.runtime.leader import default_identity

    a, b = default_identity(), default_identity()
    assert a != b
    assert a.rsplit("_", 1)[0] == b.rsplit("_", 1)[0]


def test_durations_must_be_ordered() -> None:
    with pytest.raises(ValueError):
        LeaderElector(None, namespace="x", lease_duration=5, renew_deadline=6)  # type: ignore[arg-type]
