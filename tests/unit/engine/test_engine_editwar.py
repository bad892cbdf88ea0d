"""The pause policy on a fake clock: owner flips in a sliding window, throttle runs."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from autopilot.antithrash.detector import (
    FLIPS,
    FLIPS_TO_PAUSE,
    QUIET_SECONDS,
    THROTTLES,
    WINDOW_SECONDS,
    EditWarDetector,
    Verdict,
)
from autopilot.antithrash.flips import Contest, Writer

REF = ("v1", "Service", "ns", "svc")
KP = Contest(writers=(Writer(manager="kubectl-patch", operation="Update",
                             fields=("spec.selector",)),))


@dataclass
class FakeClock:
    now: float = 5000.0

    def __call__(self) -> float:
        return self.now


def flip(d: EditWarDetector, ref: object = REF) -> Verdict:
    """Another writer took our field; we see it and (unless paused) restore it."""
    v = d.observe(ref, KP)
    if not v.pause:
        d.applied(ref, frozenset())
    return v


def fight(d: EditWarDetector, clock: FakeClock, *, every: float, edits: int) -> float | None:
    """Seconds from the first edit to the pause, or None."""
    start = clock.now
    for _ in range(edits):
        if flip(d).pause:
            return clock.now - start
        clock.now += every
    return None


@pytest.mark.parametrize("every", [0.5, 10.0, 60.0, 149.0])
def test_a_steady_fight_pauses_at_the_fifth_flip(every: float) -> None:
    clock = FakeClock()
    d = EditWarDetector(clock=clock)
    assert fight(d, clock, every=every, edits=20) == pytest.approx(4 * every)


@pytest.mark.parametrize("every", [150.0, 11 * 60.0])
def test_edits_a_window_apart_never_pause(every: float) -> None:
    clock = FakeClock()
    d = EditWarDetector(clock=clock)
    assert fight(d, clock, every=every, edits=100) is None
    assert len(d.snapshot(REF)["otherWriters"]) == 1


def test_a_single_edit_never_pauses() -> None:
    clock = FakeClock()
    d = EditWarDetector(clock=clock)
    v = flip(d)
    assert v.counted and not v.pause and v.flips == 1
    clock.now += 1800
    assert d.observe(REF, None) == Verdict(pause=False, writers=KP.writers)


def test_a_flip_counts_once_per_take_and_restore() -> None:
    # Passes over the same lost field (a throttled wait, retries, several watch
    # events) count once; only our next successful apply re-arms the count.
    d = EditWarDetector(clock=FakeClock())
    assert d.observe(REF, KP).counted
    for _ in range(10):
        v = d.observe(REF, KP)
        assert not v.counted and not v.pause and v.flips == 1
    d.applied(REF, frozenset())
    assert d.observe(REF, KP).flips == 2


def test_a_lagging_cache_does_not_count_the_same_take_twice() -> None:
    # We corrected version 7; a resync pass still reads version 7 from the cache
    # after our apply. That take was counted already.
    d = EditWarDetector(clock=FakeClock())
    assert d.observe(REF, KP, version="7").counted
    d.applied(REF, frozenset())
    v = d.observe(REF, KP, version="7")
    assert not v.counted and v.flips == 1
    assert d.observe(REF, KP, version="9").counted


def test_drift_that_is_not_a_flip_counts_nothing() -> None:
    d = EditWarDetector(clock=FakeClock())
    for _ in range(20):
        v = d.observe(REF, None)
        d.applied(REF, frozenset())
    assert v.flips == 0 and not v.pause


def test_three_throttles_without_a_quiet_period_pause() -> None:
    clock = FakeClock()
    d = EditWarDetector(clock=clock)
    verdicts = []
    for _ in range(3):
        verdicts.append(d.throttled(REF))
        d.applied(REF, frozenset())  # a success in between no longer ends the run
        clock.now += 20
    assert [v.throttles for v in verdicts] == [1, 2, 3]
    assert [v.pause for v in verdicts] == [False, False, True]
    assert verdicts[-1].trigger == THROTTLES


def test_throttles_a_quiet_period_apart_never_pause() -> None:
    clock = FakeClock()
    d = EditWarDetector(clock=clock)
    for _ in range(10):
        v = d.throttled(REF)
        assert v.throttles == 1 and not v.pause
        clock.now += QUIET_SECONDS


def test_the_episode_is_reported_once_and_ends_with_reset() -> None:
    clock = FakeClock()
    d = EditWarDetector(clock=clock)
    assert fight(d, clock, every=1, edits=10) is not None
    assert not d.episode_open(REF)
    assert d.mark_paused(REF) is True
    assert d.episode_open(REF)
    # A lagging cache shows the object unpaused: still the same episode.
    v = d.observe(REF, KP)
    assert v.pause and v.trigger == FLIPS
    assert d.mark_paused(REF) is False
    # The user removes the annotation: a fresh window, so four more flips do not pause.
    d.reset(REF)
    assert not d.episode_open(REF)
    assert fight(d, clock, every=1, edits=FLIPS_TO_PAUSE - 1) is None
    v = flip(d)
    assert v.pause and v.flips == FLIPS_TO_PAUSE
    assert d.mark_paused(REF) is True  # a new episode after a resume


def test_an_episode_ends_when_its_evidence_ages_out() -> None:
    clock = FakeClock()
    d = EditWarDetector(clock=clock)
    fight(d, clock, every=1, edits=5)
    d.mark_paused(REF)
    clock.now += WINDOW_SECONDS
    assert not d.observe(REF, None).pause
    assert not d.episode_open(REF)


def test_a_shortened_window_for_tests() -> None:
    clock = FakeClock()
    d = EditWarDetector(clock=clock, window=6.0)
    assert fight(d, clock, every=6.6, edits=30) is None
    assert fight(d, clock, every=1.0, edits=30) == pytest.approx(4.0)


def test_ownership_is_remembered() -> None:
    d = EditWarDetector(clock=FakeClock())
    assert d.previous(REF) is None
    d.learn(REF, frozenset({("f:data",)}))
    assert d.previous(REF) == frozenset({("f:data",)})
    d.applied(REF, frozenset({("f:spec",)}))
    assert d.previous(REF) == frozenset({("f:spec",)})
    d.forget(REF)
    assert d.previous(REF) is None


def test_memory_is_bounded() -> None:
    clock = FakeClock()
    d = EditWarDetector(clock=clock, max_refs=5)
    for i in range(20):
        d.observe(i, KP)
    assert len(d) == 5
    clock.now += 3601
    d.observe("new", None)
    assert len(d) == 1


def test_idle_pruning_never_forgets_live_evidence() -> None:
    # An idle limit shorter than the window is raised to the window.
    clock = FakeClock()
    d = EditWarDetector(clock=clock, idle_seconds=1)
    for _ in range(4):
        flip(d)
        clock.now += 100
    d.observe("other", None)  # triggers pruning
    assert flip(d).pause
