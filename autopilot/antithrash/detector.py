"""Edit-war detection: when to stop fighting another writer over an object.

The pause policy (README, runbooks/VirtPlatformThrashingDetected.md):

* **Owner flips.** Another writer takes fields our Golden State sets and we
  restore them (see :mod:`autopilot.antithrash.flips`). An object flipped
  ``FLIPS_TO_PAUSE`` (5) times within ``WINDOW_SECONDS`` (10 minutes) is paused.
  A flip is counted once per take-and-restore cycle: after one is counted, the
  next one counts only after our apply has succeeded again, and never twice for
  the same version of the object (a pass that still reads the version we just
  corrected from a lagging cache), so the number of passes the work queue
  happens to make (deduplicated events, retries, a resync, a throttled wait)
  does not change the count.
* **Throttles.** The token bucket (:mod:`autopilot.antithrash.budget`) bounds our
  write rate. ``THROTTLES_TO_PAUSE`` (3) throttles without a quiet period in
  between pause too. The quiet period is ``QUIET_SECONDS`` (60 s, the time an
  empty bucket takes to refill completely) without a throttle; a successful
  apply does not end it. This catches fights flips cannot see: a writer that
  uses our own field manager name (another copy of the autopilot), or a
  desired state that itself keeps changing.

Whichever comes first pauses. A single edit, or edits at least a window apart,
never pause. The pause ends when the user removes the annotation
(:meth:`EditWarDetector.reset`: a fresh window, fresh counters); the episode
is reported once, however often passes look at the object meanwhile.

State lives in memory. A restart starts a new window; the pause itself lives
on the object, and a fight still going on is caught within one window of the
restart. Memory is bounded: objects idle for ``idle_seconds`` and the least
recently seen beyond ``max_refs`` are dropped.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Final

from autopilot.antithrash.budget import CAPACITY, REFILL_SECONDS
from autopilot.antithrash.flips import Contest, FieldPath, Writer
from autopilot.runtime.lru import LruMap

FLIPS_TO_PAUSE: Final = 5
WINDOW_SECONDS: Final = 600.0
THROTTLES_TO_PAUSE: Final = 3
QUIET_SECONDS: Final = CAPACITY * REFILL_SECONDS

FLIPS: Final = "flips"
THROTTLES: Final = "throttles"

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the detector makes of one observation of an object."""

    pause: bool
    trigger: str = ""  # FLIPS or THROTTLES when pause is True
    flips: int = 0  # flips within the window now
    throttles: int = 0  # throttles since the last quiet period
    counted: bool = False  # this observation counted a new flip
    span: float = 0.0  # seconds from the oldest flip in the window to now
    writers: tuple[Writer, ...] = ()  # the other writer(s) last seen taking our fields


@dataclass
class _State:
    flips: deque[float] = field(default_factory=deque)
    armed: bool = True  # the next flip counts (an apply of ours came since the last one)
    flip_version: str = ""  # resourceVersion of the object the last counted flip was seen in
    owned: frozenset[FieldPath] | None = None
    writers: tuple[Writer, ...] = ()
    throttles: int = 0
    last_throttle: float = -math.inf
    episode: bool = False  # paused and reported; cleared by reset or when the war is over
    last_seen: float = 0.0


class EditWarDetector:
    """Per-object flip windows and throttle runs; decides when to pause."""

    def __init__(
        self,
        *,
        flips_to_pause: int = FLIPS_TO_PAUSE,
        window: float = WINDOW_SECONDS,
        throttles_to_pause: int = THROTTLES_TO_PAUSE,
        quiet: float = QUIET_SECONDS,
        clock: Clock = time.monotonic,
        idle_seconds: float = 3600.0,
        max_refs: int = 50_000,
    ) -> None:
        self.flips_to_pause = max(1, flips_to_pause)
        self.window = window
        self.throttles_to_pause = max(1, throttles_to_pause)
        self.quiet = quiet
        self._clock = clock
        # Never forget an object while its evidence could still pause it.
        self._idle = max(idle_seconds, window, quiet)
        self._states: LruMap[Hashable, _State] = LruMap(max_refs)

    # -- observations --------------------------------------------------------------------

    def observe(self, ref: Hashable, contest: Contest | None, *, version: str = "") -> Verdict:
        """Drift on ``ref`` is about to be corrected; ``contest`` says whether it is a flip.

        ``version`` is the resourceVersion of the object the contest was read from.
        """
        now = self._clock()
        st = self._touch(ref, now)
        counted = False
        if contest is not None:
            st.writers = contest.writers
            if st.armed and not (version and version == st.flip_version):
                st.flips.append(now)
                st.armed = False
                st.flip_version = version
                counted = True
        return self._verdict(st, now, counted=counted)

    def throttled(self, ref: Hashable) -> Verdict:
        """The token bucket refused an apply of ``ref``."""
        now = self._clock()
        st = self._touch(ref, now)
        if now - st.last_throttle >= self.quiet:
            st.throttles = 0
        st.throttles += 1
        st.last_throttle = now
        return self._verdict(st, now, counted=False)

    def applied(self, ref: Hashable, owned: frozenset[FieldPath]) -> None:
        """Our apply succeeded: remember what we own; the next flip counts again."""
        st = self._touch(ref, self._clock())
        st.owned = owned
        st.armed = True

    def learn(self, ref: Hashable, owned: frozenset[FieldPath]) -> None:
        """The object was found in sync: remember what we own there."""
        self._touch(ref, self._clock()).owned = owned

    # -- episode -------------------------------------------------------------------------

    def episode_open(self, ref: Hashable) -> bool:
        """``ref`` was paused and reported, and the user has not resumed it yet."""
        st = self._states.peek(ref)
        return st is not None and st.episode

    def mark_paused(self, ref: Hashable) -> bool:
        """Record the pause; True the first time in this episode (count it then)."""
        st = self._touch(ref, self._clock())
        first = not st.episode
        st.episode = True
        return first

    def reset(self, ref: Hashable) -> None:
        """The user resumed ``ref``: a fresh window and fresh counters."""
        self._states.drop(ref)

    def forget(self, ref: Hashable) -> None:
        """Drop everything about ``ref`` (object deleted or no longer managed)."""
        self._states.drop(ref)

    # -- views ---------------------------------------------------------------------------

    def previous(self, ref: Hashable) -> frozenset[FieldPath] | None:
        """What we owned after our last apply or in-sync check (None if unknown)."""
        st = self._states.peek(ref)
        return st.owned if st is not None else None

    def writers(self, ref: Hashable) -> tuple[Writer, ...]:
        """The other writer(s) last seen taking fields of ``ref``."""
        st = self._states.peek(ref)
        return st.writers if st is not None else ()

    def snapshot(self, ref: Hashable) -> dict[str, Any]:
        """Counters of ``ref`` for the debug view and ``autopilot explain``."""
        st = self._states.peek(ref) or _State()
        now = self._clock()
        self._expire(st, now)
        return {
            "flips": len(st.flips),
            "flipsToPause": self.flips_to_pause,
            "windowSeconds": self.window,
            "throttles": self._throttles(st, now),
            "throttlesToPause": self.throttles_to_pause,
            "otherWriters": [w.as_dict() for w in st.writers],
        }

    def __len__(self) -> int:
        return len(self._states)

    # -- internals -----------------------------------------------------------------------

    def _verdict(self, st: _State, now: float, *, counted: bool) -> Verdict:
        self._expire(st, now)
        flips, throttles = len(st.flips), self._throttles(st, now)
        trigger = (
            FLIPS if flips >= self.flips_to_pause
            else THROTTLES if throttles >= self.throttles_to_pause
            else ""
        )
        if not trigger:
            # Evidence aged out without a resume we saw: the war is over; a new one is
            # a new episode.
            st.episode = False
        span = now - st.flips[0] if st.flips else 0.0
        return Verdict(pause=bool(trigger), trigger=trigger, flips=flips, throttles=throttles,
                       counted=counted, span=span, writers=st.writers)

    def _throttles(self, st: _State, now: float) -> int:
        return st.throttles if now - st.last_throttle < self.quiet else 0

    def _expire(self, st: _State, now: float) -> None:
        while st.flips and now - st.flips[0] >= self.window:
            st.flips.popleft()

    def _touch(self, ref: Hashable, now: float) -> _State:
        self._prune(now)
        st = self._states.peek(ref)
        if st is None:
            st = _State()
        st.last_seen = now
        self._states.put(ref, st)
        return st

    def _prune(self, now: float) -> None:
        self._states.drop_oldest_while(lambda st: now - st.last_seen >= self._idle)
