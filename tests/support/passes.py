"""Wait for a full pass before asserting that something did *not* happen.

An absence ("the ServiceMonitor was not applied", "no failure was logged") only
means something once the asset that would have done it has had its pass. One
earlier asset coming into line says nothing about a later one: the controller
works through the assets in order, two at a time. :func:`full_pass` nudges the
HyperConverged (every asset is re-evaluated on an HCO change) and waits until
each asset has logged a finished pass since the nudge.
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

from autopilot.golden.catalog import load_golden_state
from tests.support.controller import Controller
from tests.support.platform import Platform
from tests.support.wait import eventually_sync

GOLDEN = Path(__file__).resolve().parents[2] / "golden_state"
NUDGE = "example.com/full-pass-nudge"


@lru_cache(maxsize=1)
def all_assets() -> tuple[str, ...]:
    """Names of every asset of the shipped golden state."""
    return tuple(a.name for a in load_golden_state(GOLDEN).assets)


def passes(c: Controller, assets: tuple[str, ...]) -> dict[str, int]:
    """How many passes the controller has finished, per asset."""
    done = c.log_lines("asset pass done")
    counts = dict.fromkeys(assets, 0)
    for line in done:
        asset = line.get("asset")
        if asset in counts:
            counts[asset] += 1
    return counts


def passes_over(c: Controller, asset: str) -> int:
    """Finished passes that looked at the asset's objects: full passes of the asset and
    passes over one of its objects (what a watch event of a managed object starts)."""
    return sum(len(c.log_lines(event, asset=asset))
               for event in ("asset pass done", "object pass done"))


def full_pass(c: Controller, platform: Platform, *, assets: tuple[str, ...] | None = None,
              timeout: float = 30.0) -> None:
    """Nudge the HCO and wait until every asset (or each of ``assets``) had a pass after it."""
    names = all_assets() if assets is None else assets
    before = passes(c, names)
    platform.annotate_hco({NUDGE: str(time.monotonic_ns())})  # a new value each time
    eventually_sync(
        lambda: all(v > before[a] for a, v in passes(c, names).items()),
        timeout=timeout, what=f"a pass over {len(names)} asset(s) after the nudge",
    )
