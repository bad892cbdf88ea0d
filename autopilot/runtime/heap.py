"""The cyclic garbage collector and the objects the start leaves alive.

A full (generation 2) collection walks every container object alive. The imports
alone leave some 50,000 (modules, classes, functions, templates), the first lists and
renders tens of thousands more, and they live as long as the process: walking them
cost 15 to 50 ms per full collection on 2 cores, several during the start (paid by the
cold start) and one every few seconds later, landing on whatever watch event was
waiting, a drift correction's included (one of 30 ms in the drift benchmark).

So :func:`gc.freeze` moves them out of the collector's sight: what the imports left
at once (:meth:`StartHeap.hold`), and what the start left once its burst is over
(:meth:`StartHeap.settle`: the work queue drained for the first time, or
:data:`HOLD_MAX_S` after the hold at the latest, for a start that never converges or a
standby replica), after one last collection of the burst's cyclic garbage. Reference
counting still frees any frozen object dropped later; only a reference cycle among
them would outlive its use, and the collection before the freeze leaves none behind.
Holding the collector off altogether during the start was tried: the burst's cyclic
garbage (template compilation, mostly) raised the RSS after start by 10 MB.
"""

from __future__ import annotations

import asyncio
import gc
import time

import structlog

log = structlog.get_logger("autopilot.runtime")

# The longest wait for the first drain: a start converges in seconds.
HOLD_MAX_S = 30.0


class StartHeap:
    """Freezes the import's survivors on :meth:`hold`, the start's on :meth:`settle`."""

    def __init__(self) -> None:
        self._held = False
        self._timer: asyncio.TimerHandle | None = None

    @property
    def held(self) -> bool:
        """Whether the start's objects are still to be frozen."""
        return self._held

    def hold(self, *, at_most: float = HOLD_MAX_S) -> None:
        """Freeze what is alive now; :meth:`settle` by itself after ``at_most`` seconds.

        Call from the event loop. A collector switched off by someone else is theirs:
        nothing is done then.
        """
        if self._held or not gc.isenabled():
            return
        gc.freeze()
        self._held = True
        self._timer = asyncio.get_running_loop().call_later(at_most, self.settle)

    def settle(self) -> None:
        """The burst is over: collect its cyclic garbage once, freeze the survivors."""
        if not self._held:
            return
        self._held = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        started = time.perf_counter()
        found = gc.collect()
        gc.freeze()
        log.debug("start heap settled", collected=found, frozen=gc.get_freeze_count(),
                  took_ms=round((time.perf_counter() - started) * 1000, 1))
