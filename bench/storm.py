"""Edit storm: objects edited many times a second by another client (contract §6)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from autopilot.engine.overrides import RECONCILE_PAUSED
from bench.client import BenchApiError, BenchClient
from bench.env import Env, LogTail, log_time, ref_of_line, wait_all_applied, wait_quiet
from bench.modes import Mode
from bench.objects import ManagedWatch, Target, choose_targets, edit_ops, obj_key
from bench.stats import summary

BUCKET, REFILL_S = 10, 6.0


def run(env: Env, mode: Mode) -> dict[str, Any]:
    """Converge, storm ``storm_objects`` objects at ``storm_rate_hz`` for ``storm_s``."""
    controller, _ = env.start_controller()
    tail = LogTail(controller.log_path)
    wait_all_applied(env, controller, tail, timeout=120)
    wait_quiet(tail, quiet=1.0)
    outcome = asyncio.run(_storm(env, mode))
    tail.poll()
    controller._check_alive()
    return _report(outcome, tail, mode)


async def _storm(env: Env, mode: Mode) -> dict[str, Any]:
    async with env.client() as client:
        targets = (await choose_targets(client, env.spec))[: mode.storm_objects]
        paused_at: dict[tuple[str, str, str], float] = {}

        def listener(kind: str, obj: dict[str, Any], at: float) -> None:
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            if annotations.get(RECONCILE_PAUSED) == "true":
                paused_at.setdefault(obj_key(obj), at)

        async with ManagedWatch(client, targets) as watch:
            watch.listeners.append(listener)
            start_wall, start = time.time(), time.monotonic()
            sent = await asyncio.gather(*(
                _hammer(client, t, start=start, rate=mode.storm_rate_hz, seconds=mode.storm_s)
                for t in targets))
            end_wall = time.time()
            await asyncio.sleep(0.5)  # let the last pause events arrive
        return {"start_wall": start_wall, "end_wall": end_wall,
                "paused_after": {t.key: paused_at[t.key] - start for t in targets
                                 if t.key in paused_at},
                "edits_sent": sum(s for s, _ in sent), "edits_rejected": sum(r for _, r in sent),
                "targets": [t.key for t in targets]}


async def _hammer(client: BenchClient, target: Target, *, start: float, rate: float,
                  seconds: float) -> tuple[int, int]:
    """Edit one object ``rate`` times a second on a fixed schedule (no catch-up bursts)."""
    sent = rejected = 0
    n = 0
    while True:
        due = start + n / rate
        if due - start >= seconds:
            return sent, rejected
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif -delay > 1.0 / rate:  # fell behind: skip the missed slots
            n += int(-delay * rate)
            continue
        try:
            await client.json_patch(target.path, edit_ops(target, f"{target.original}-storm{n}"))
            sent += 1
        except BenchApiError:
            rejected += 1
        n += 1


def _report(outcome: dict[str, Any], tail: LogTail, mode: Mode) -> dict[str, Any]:
    targets: list[tuple[str, str, str]] = outcome["targets"]
    start, end = outcome["start_wall"], outcome["end_wall"]
    applies = dict.fromkeys(targets, 0)
    for line in tail.find("successfully applied"):
        key = ref_of_line(line)
        if key in applies and start <= log_time(line) <= end + 1.0:
            applies[key] += 1
    paused: dict[tuple[str, str, str], float] = outcome["paused_after"]
    over_budget = []
    for key in targets:
        elapsed = paused.get(key, end - start)
        if applies[key] > BUCKET + elapsed / REFILL_S:
            over_budget.append(f"{key[0]}/{key[1]}: {applies[key]} applies in {elapsed:.1f}s")
    duration = max(1e-9, end - start)
    return {
        "objects": len(targets),
        "seconds": mode.storm_s,
        "edit_rate_hz_achieved": round(outcome["edits_sent"] / duration / max(1, len(targets)),
                                       2),
        "edits_rejected": outcome["edits_rejected"],
        "paused": len(paused),
        "time_to_pause_s": summary(list(paused.values())),
        "applies_per_object": {"max": max(applies.values(), default=0),
                               "mean": round(sum(applies.values()) / max(1, len(applies)), 1)},
        "over_budget": over_budget[:10],
        "target": "every object paused; applies <= 10 + elapsed/6 s",
        "met": len(paused) == len(targets) and not over_budget,
    }
