"""The Lease record: expiry by our own clock, claims, release, what standbys read."""

from __future__ import annotations

from typing import Any

from autopilot.runtime.lease import LeaseRecord


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(clock: Clock, identity: str = "me") -> LeaseRecord:
    return LeaseRecord(namespace="ns", name="lock", identity=identity, lease_duration=15.0,
                       clock=clock, publish={"example.com/url": "http://10.0.0.1:8080"})


def held(holder: str, *, renew: str = "2026-01-01T00:00:00.000000Z") -> dict[str, Any]:
    return {"metadata": {"name": "lock", "namespace": "ns", "resourceVersion": "7"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                     "acquireTime": renew, "renewTime": renew, "leaseTransitions": 2}}


def test_another_holder_expires_by_our_clock_not_theirs() -> None:
    clock = Clock()
    mine = record(clock)
    lease = held("other")
    mine.observe(lease)
    clock.now += 14
    # Seen again unchanged: the holder's renewTime is old, but we count from our first sight.
    mine.observe(held("other"))
    assert mine.held_by_another(lease)
    clock.now += 2
    assert not mine.held_by_another(lease)
    # A renewal (a changed spec) restarts our count.
    mine.observe(held("other", renew="2026-01-01T00:00:16.000000Z"))
    assert mine.held_by_another(lease)


def test_claim_takes_over_or_renews() -> None:
    clock = Clock()
    mine = record(clock)
    taken = mine.claim(held("other"))["spec"]
    assert taken["holderIdentity"] == "me"
    assert taken["leaseTransitions"] == 3
    assert taken["acquireTime"] == taken["renewTime"]
    renewed = mine.claim(held("me"))
    assert renewed["spec"]["leaseTransitions"] == 2
    assert renewed["spec"]["acquireTime"] == "2026-01-01T00:00:00.000000Z"
    assert renewed["metadata"]["resourceVersion"] == "7"  # the write is conditional
    assert renewed["metadata"]["annotations"] == {"example.com/url": "http://10.0.0.1:8080"}


def test_new_lease_names_us_first_holder() -> None:
    body = record(Clock()).new_lease()
    assert body["metadata"]["name"] == "lock"
    assert body["spec"]["holderIdentity"] == "me"
    assert body["spec"]["leaseTransitions"] == 0
    assert body["spec"]["leaseDurationSeconds"] == 15


def test_release_only_by_the_holder() -> None:
    mine = record(Clock())
    assert mine.released() is None
    mine.observe(held("other"))
    assert mine.released() is None
    mine.observe(held("me"))
    spec = (mine.released() or {})["spec"]
    assert "holderIdentity" not in spec
    assert spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == 2


def test_holder_annotations_until_the_claim_runs_out() -> None:
    clock = Clock()
    standby = record(clock, identity="standby")
    assert standby.holder_annotations() is None
    lease = held("leader")
    lease["metadata"]["annotations"] = {"example.com/url": "http://10.0.0.2:8080"}
    standby.observe(lease)
    assert standby.holder_annotations() == ("leader", {"example.com/url": "http://10.0.0.2:8080"})
    clock.now += 16
    assert standby.holder_annotations() is None
