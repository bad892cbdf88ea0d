"""Cold start: process start -> caches synced -> every eligible asset applied."""

from __future__ import annotations

from typing import Any

from bench.env import Env, LogTail, log_time, proc_sample, wait_all_applied
from bench.modes import Mode
from tests.support.wait import eventually_sync


def run(env: Env, mode: Mode) -> dict[str, Any]:
    """Start the controller on a seeded, untouched platform and time it."""
    baseline = env.reset_counts()
    controller, started = env.start_controller()
    tail = LogTail(controller.log_path)

    def synced() -> float:
        controller._check_alive()
        tail.poll()
        lines = tail.find("caches synced")
        return log_time(lines[0]) if lines else 0.0

    synced_at: float = eventually_sync(synced, timeout=60, interval=0.02, what="caches synced")
    done_at = wait_all_applied(env, controller, tail, timeout=120)
    sample = proc_sample(controller.proc.pid) if controller.proc else None
    counts = env.counts(controller, baseline)
    return {
        "objects": len(env.spec.expected),
        "to_caches_synced_s": round(synced_at - started, 3),
        "synced_to_all_applied_s": round(max(0.0, done_at - synced_at), 3),
        "total_s": round(done_at - started, 3),
        "requests_by_verb": counts,
        "cpu_s": round(sample.cpu, 2) if sample else None,
        "rss_mb": round(sample.rss / 2**20, 1) if sample else None,
        "target": "synced_to_all_applied_s <= 2",
        "met": done_at - synced_at <= 2.0,
    }
