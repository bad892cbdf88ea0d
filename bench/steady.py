"""Steady state: API requests over resync passes with nothing changing.

The target is no request at all, reads included: the controller renders and
sweeps from its watch caches (template lookups and tombstoned objects have
watches of their own), so a pass over a cluster where nothing changed has
nothing to ask the API server.
"""

from __future__ import annotations

import time
from typing import Any

from bench.env import (
    Env,
    LogTail,
    by_resource,
    by_verb,
    proc_sample,
    wait_all_applied,
    wait_quiet,
    writes_of,
)
from bench.modes import Mode
from tests.support.wait import eventually_sync


def run(env: Env, mode: Mode) -> dict[str, Any]:
    """Converge, then count the controller's requests over ``steady_passes`` resyncs."""
    period = mode.resync_period_s
    controller, _ = env.start_controller("--resync-period", f"{period}s")
    tail = LogTail(controller.log_path)
    wait_all_applied(env, controller, tail, timeout=120)
    wait_quiet(tail, quiet=1.0)
    # Start the window right after a resync pass began and settled, end it after the
    # pass ``steady_passes`` later has had time to finish (well before the next one).

    def resyncs() -> int:
        tail.poll()
        return len(tail.find("resync"))

    seen = resyncs()
    eventually_sync(lambda: resyncs() > seen, timeout=period * 3, interval=0.05,
                    what="a resync pass")
    time.sleep(min(1.0, period / 3))
    requests_before = env.request_table()
    before = proc_sample(controller.proc.pid) if controller.proc else None
    start = resyncs()
    eventually_sync(lambda: resyncs() >= start + mode.steady_passes,
                    timeout=period * (mode.steady_passes + 3), interval=0.05,
                    what=f"{mode.steady_passes} resync passes")
    time.sleep(min(1.0, period / 3))
    after = proc_sample(controller.proc.pid) if controller.proc else None
    window = env.requests_since(requests_before)
    counts = by_verb(window)
    writes = writes_of(counts)
    dry = counts.get("dry-run", 0)
    passes = mode.steady_passes
    total = sum(window.values())
    return {
        "passes": passes,
        "resync_period_s": period,
        "requests_by_verb": counts,
        "requests_by_resource": by_resource(window),
        "requests_counted_by": env.counted_by,
        "requests_per_pass": round(total / passes, 2),
        "writes_per_pass": round(writes / passes, 2),
        "dry_runs_per_pass": round(dry / passes, 2),
        "reads_per_pass": round((counts.get("get", 0) + counts.get("list", 0)) / passes, 2),
        "cpu_s_per_pass": round((after.cpu - before.cpu) / passes, 3)
        if before and after else None,
        "target": "0 requests per pass (reads included)",
        "met": total == 0,
    }
