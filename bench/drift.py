"""Drift correction: external edits spread over the managed objects, edit -> restored."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.client import BenchApiError
from bench.env import Env, LogTail, wait_all_applied, wait_quiet
from bench.modes import Mode
from bench.objects import ManagedWatch, Target, choose_targets, edit_ops, get_pointer, obj_key
from bench.stats import summary

RESTORE_TIMEOUT = 10.0


def run(env: Env, mode: Mode) -> dict[str, Any]:
    """Converge, then edit ``drift_edits`` times (round robin) and time each restore."""
    controller, _ = env.start_controller()
    tail = LogTail(controller.log_path)
    wait_all_applied(env, controller, tail, timeout=120)
    wait_quiet(tail, quiet=1.0)
    result = asyncio.run(_edits(env, mode))
    controller._check_alive()
    return result


async def _edits(env: Env, mode: Mode) -> dict[str, Any]:
    async with env.client() as client:
        targets = await choose_targets(client, env.spec)
        if not targets:
            raise RuntimeError("no editable managed object found")
        pending: dict[tuple[str, str, str], tuple[Target, asyncio.Future[float]]] = {}

        def listener(kind: str, obj: dict[str, Any], at: float) -> None:
            entry = pending.get(obj_key(obj))
            if entry is None:
                return
            target, fut = entry
            if not fut.done() and get_pointer(obj, target.pointer) == target.original:
                fut.set_result(at)

        latencies: list[float] = []
        unrestored: list[str] = []
        rejected = 0
        async with ManagedWatch(client, targets) as watch:
            watch.listeners.append(listener)
            loop = asyncio.get_running_loop()
            for i in range(mode.drift_edits):
                target = targets[i % len(targets)]
                fut: asyncio.Future[float] = loop.create_future()
                pending[target.key] = (target, fut)
                sent = time.monotonic()
                try:
                    await client.json_patch(target.path,
                                            edit_ops(target, f"{target.original}-drift{i}"))
                except BenchApiError:
                    rejected += 1
                    pending.pop(target.key, None)
                    continue
                try:
                    restored = await asyncio.wait_for(fut, RESTORE_TIMEOUT)
                    latencies.append(restored - sent)
                except TimeoutError:
                    unrestored.append(f"{target.kind}/{target.name}")
                pending.pop(target.key, None)
        stats = summary([x * 1000 for x in latencies])
        return {
            "edits": mode.drift_edits,
            "objects": len(targets),
            "restored": len(latencies),
            "unrestored": unrestored[:10],
            "rejected_edits": rejected,
            "latency_ms": stats,
            "target": "p50 <= 30 ms, p99 <= 100 ms",
            "met": bool(latencies) and not unrestored and stats["p50"] <= 30
            and stats["p99"] <= 100,
        }
