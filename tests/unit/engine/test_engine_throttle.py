"""Token buckets per object, on a fake clock."""

from __future__ import annotations

from dataclasses import dataclass

from autopilot.antithrash.budget import CAPACITY, REFILL_SECONDS, ThrashGuard
from autopilot.runtime.tokenbucket import TokenBucket


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


REF = ("ConfigMap", "ns", "cm")


def object_bucket(clock: FakeClock) -> TokenBucket:
    """The bucket the guard gives each object."""
    return TokenBucket(capacity=CAPACITY, refill_per_second=1 / REFILL_SECONDS, clock=clock)


def drain(guard: ThrashGuard, ref: object = REF, n: int = 10) -> None:
    for _ in range(n):
        assert guard.acquire(ref).allowed


def test_bucket_ten_then_one_per_six_seconds() -> None:
    clock = FakeClock()
    bucket = object_bucket(clock)
    assert all(bucket.try_take() for _ in range(10))
    assert not bucket.try_take()
    assert bucket.seconds_until_token() == REFILL_SECONDS
    clock.advance(5.9)
    assert not bucket.try_take()
    clock.advance(0.1)
    assert bucket.try_take()
    assert not bucket.try_take()
    # Refill is continuous and capped at capacity.
    clock.advance(6 * 3)
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]
    clock.advance(10_000)
    assert bucket.available() == 10


def test_clock_stepping_back_does_not_drain() -> None:
    clock = FakeClock()
    bucket = object_bucket(clock)
    bucket.try_take()
    clock.advance(-100)
    assert bucket.available() == 9
    clock.advance(6)  # back where we were: no refill credited twice or lost
    assert bucket.available() == 9


def test_eleventh_apply_is_throttled() -> None:
    guard = ThrashGuard(clock=FakeClock())
    drain(guard)
    d = guard.acquire(REF)
    assert not d.allowed
    assert d.retry_after == REFILL_SECONDS


def test_success_is_not_a_free_token() -> None:
    # The bucket alone bounds the write rate: nothing but time refills it.
    clock = FakeClock()
    guard = ThrashGuard(clock=clock)
    drain(guard)
    clock.advance(REFILL_SECONDS)
    assert guard.acquire(REF).allowed
    assert not guard.acquire(REF).allowed


def test_reset_gives_a_full_bucket() -> None:
    guard = ThrashGuard(clock=FakeClock())
    drain(guard)
    guard.acquire(REF)
    guard.reset(REF)
    assert guard.tokens(REF) == 10
    drain(guard)
    assert not guard.acquire(REF).allowed


def test_objects_have_separate_buckets() -> None:
    guard = ThrashGuard(clock=FakeClock())
    drain(guard, REF)
    assert not guard.acquire(REF).allowed
    drain(guard, ("ConfigMap", "ns", "other"))


def test_memory_is_bounded() -> None:
    clock = FakeClock()
    guard = ThrashGuard(clock=clock, idle_seconds=120, max_refs=5)
    for i in range(20):
        guard.acquire(i)
    assert len(guard) == 5
    clock.advance(121)
    guard.acquire("new")
    assert len(guard) == 1
    guard.forget("new")
    assert len(guard) == 0


def test_idle_forgetting_never_hands_out_extra_tokens() -> None:
    # An idle limit shorter than a full refill is raised to the refill time.
    clock = FakeClock()
    guard = ThrashGuard(clock=clock, idle_seconds=1)
    drain(guard)
    clock.advance(30)
    guard.acquire("someone-else")  # triggers pruning
    assert [guard.acquire(REF).allowed for _ in range(6)] == [True] * 5 + [False]
