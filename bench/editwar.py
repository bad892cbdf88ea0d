"""Edit wars at the pace of real fights: time to pause at 1/s, 0.1/s and 1/60 s (contract §6).

One object per rate is reverted by another client (a JSON patch, so an
``Update`` by another field manager) on a fixed schedule, all at once, until
the object carries ``reconcile-paused`` or the rate's time limit passes. Time
to pause runs from the first edit to the watch event carrying the annotation.
The pause log line tells what triggered it and whom it named.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from autopilot.engine.overrides import RECONCILE_PAUSED
from bench.client import BenchApiError, BenchClient
from bench.env import Env, LogTail, log_time, ref_of_line, wait_all_applied, wait_quiet
from bench.modes import Mode
from bench.objects import ManagedWatch, Target, choose_targets, edit_ops, obj_key

# The acceptance bounds of the pause policy, by edit period (seconds).
BOUNDS = {1.0: 20.0, 10.0: 120.0, 60.0: 600.0}
PAUSE_LOG = "edit war detected, reconciliation paused"


def run(env: Env, mode: Mode) -> dict[str, Any]:
    """Converge, then fight one object per rate in ``mode.editwar_periods_s`` at once."""
    controller, _ = env.start_controller()
    tail = LogTail(controller.log_path)
    wait_all_applied(env, controller, tail, timeout=120)
    wait_quiet(tail, quiet=1.0)
    outcome = asyncio.run(_fights(env, mode))
    tail.poll()
    controller._check_alive()
    return _report(outcome, tail)


async def _fights(env: Env, mode: Mode) -> dict[str, Any]:
    periods = mode.editwar_periods_s
    async with env.client() as client:
        targets = (await choose_targets(client, env.spec))[: len(periods)]
        if len(targets) < len(periods):
            raise RuntimeError(f"need {len(periods)} editable objects, found {len(targets)}")
        paused_at: dict[tuple[str, str, str], float] = {}
        signals = {t.key: asyncio.Event() for t in targets}

        def listener(kind: str, obj: dict[str, Any], at: float) -> None:
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            key = obj_key(obj)
            if annotations.get(RECONCILE_PAUSED) == "true" and key in signals:
                paused_at.setdefault(key, at)
                signals[key].set()

        async with ManagedWatch(client, targets) as watch:
            watch.listeners.append(listener)
            start_wall, start = time.time(), time.monotonic()
            sent = await asyncio.gather(*(
                _revert(client, t, start=start, period=p, limit=mode.editwar_limit_s,
                        paused=signals[t.key])
                for t, p in zip(targets, periods, strict=True)))
            await asyncio.sleep(0.5)  # let the last watch events arrive
        return {"start_wall": start_wall, "end_wall": time.time(),
                "fights": [{"target": t.key, "period_s": p, "edits": n,
                            "paused_after_s": paused_at[t.key] - start
                            if t.key in paused_at else None}
                           for t, p, n in zip(targets, periods, sent, strict=True)]}


async def _revert(client: BenchClient, target: Target, *, start: float, period: float,
                  limit: float, paused: asyncio.Event) -> int:
    """Edit ``target`` every ``period`` s until it is paused or ``limit`` s have passed."""
    sent = n = 0
    while not paused.is_set():
        due = start + n * period
        if due - start >= limit:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(paused.wait(), max(0.0, due - time.monotonic()))
        if paused.is_set():
            break
        try:
            await client.json_patch(target.path, edit_ops(target, f"{target.original}-war{n}"))
            sent += 1
        except BenchApiError:
            pass
        n += 1
    return sent


def _report(outcome: dict[str, Any], tail: LogTail) -> dict[str, Any]:
    start, end = outcome["start_wall"], outcome["end_wall"]
    rows = []
    for fight in outcome["fights"]:
        key = tuple(fight["target"])
        mine = [x for x in tail.lines if ref_of_line(x) == key and start <= log_time(x) <= end]
        pause = [x for x in mine if x.get("event") == PAUSE_LOG]
        period, after = fight["period_s"], fight["paused_after_s"]
        after = None if after is None else round(after, 1)  # the figure printed decides
        bound = BOUNDS.get(round(period, 3), 600.0)
        rows.append({
            "object": f"{key[0]}/{key[1]}",
            "edit_every_s": round(period, 3),
            "time_to_pause_s": after,
            "edits_before_pause": fight["edits"],
            "applies": sum(1 for x in mine if x.get("event") == "successfully applied"),
            "flips_counted": sum(1 for x in mine if x.get("event") == "owner flip"),
            "trigger": pause[0].get("trigger") if pause else None,
            "named": pause[0].get("other_managers") if pause else None,
            "bound_s": bound,
            "met": after is not None and after <= bound and bool(pause)
            and bool(pause[0].get("other_managers")),
        })
    return {
        "fights": rows,
        "target": "paused within 20 s / 2 min / 10 min at 1/s / 0.1/s / 1/60 s, naming the writer",
        "met": all(r["met"] for r in rows),
    }
