"""Idle CPU: a converged controller with nothing to do.

Run as deployed: leader election on (the Lease renewals are the only requests
expected) and the default resync period (5 minutes, longer than the window).
"""

from __future__ import annotations

import time
from typing import Any

from bench.env import Env, LogTail, cpu_percent, proc_sample, wait_all_applied, wait_quiet
from bench.modes import Mode


def run(env: Env, mode: Mode) -> dict[str, Any]:
    """CPU share and wake-ups over ``idle_s`` seconds of nothing happening."""
    controller, _ = env.start_controller("--leader-elect")
    tail = LogTail(controller.log_path)
    wait_all_applied(env, controller, tail, timeout=120)
    wait_quiet(tail, quiet=2.0)
    assert controller.proc is not None
    baseline = env.reset_counts(controller)
    a = proc_sample(controller.proc.pid)
    time.sleep(mode.idle_s)
    b = proc_sample(controller.proc.pid)
    pct = cpu_percent(a, b)
    counts = env.counts(controller, baseline)
    return {
        "seconds": mode.idle_s,
        "cpu_percent_of_core": round(pct, 3),
        "cpu_s": round(b.cpu - a.cpu, 3),
        "context_switches_per_s": round((b.ctx_switches - a.ctx_switches) / (b.at - a.at), 2),
        "requests_by_verb": counts,
        "rss_mb": round(b.rss / 2**20, 1),
        "leader_elect": True,
        "target": "< 1% of a core, no polling",
        "met": pct < 1.0,
    }
