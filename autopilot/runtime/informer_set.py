"""A set of informers that can grow and shrink while the controller runs.

Watches for a custom kind start when its CRD appears and stop when it goes
away, without a restart. The set owns the informer tasks (through a
:class:`TaskSupervisor`, so a dead watch loop shows in /healthz) and answers
"are all caches synced?" for /readyz.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from autopilot.kube.informer import Informer
from autopilot.runtime.supervisor import TaskSupervisor

log = structlog.get_logger("autopilot.informers")


class InformerSet:
    """Named informers and their tasks."""

    def __init__(self, supervisor: TaskSupervisor | None = None) -> None:
        self.supervisor = supervisor or TaskSupervisor()
        self._informers: dict[str, Informer] = {}
        # Informers that answer best-effort questions (a caller waits for them with its
        # own deadline and falls back): readiness and the start-up wait ignore them.
        self._optional: set[str] = set()
        self._running = False

    def __contains__(self, name: object) -> bool:
        return name in self._informers

    def get(self, name: str) -> Informer | None:
        """The informer registered as ``name``."""
        return self._informers.get(name)

    def items(self) -> list[tuple[str, Informer]]:
        """(name, informer) pairs."""
        return list(self._informers.items())

    @staticmethod
    def _task_name(name: str) -> str:
        return f"informer/{name}"

    def add(self, name: str, informer: Informer, *, optional: bool = False) -> Informer:
        """Register ``informer``; it starts now if the set is running, else on :meth:`start`.

        An ``optional`` informer is left out of :meth:`not_synced` and :meth:`wait_synced`:
        a cache its users can do without must not hold readiness back.
        """
        if name in self._informers:
            raise ValueError(f"informer {name} already exists")
        self._informers[name] = informer
        if optional:
            self._optional.add(name)
        if self._running:
            self._launch(name, informer)
        return informer

    def _launch(self, name: str, informer: Informer) -> None:
        task = self._task_name(name)
        hb = self.supervisor.heartbeat(task, stale_after=informer.max_quiet)
        informer.beat = hb.beat
        self.supervisor.spawn(task, informer.run())

    def start(self) -> None:
        """Start every registered informer (and any added later). Needs a running loop."""
        if self._running:
            return
        self._running = True
        for name, informer in self._informers.items():
            self._launch(name, informer)

    async def remove(self, name: str) -> None:
        """Stop and forget the informer ``name`` (e.g. its CRD was deleted)."""
        informer = self._informers.pop(name, None)
        self._optional.discard(name)
        if informer is None:
            return
        await self.supervisor.cancel(self._task_name(name))
        log.info("stopped watching", informer=name)

    async def stop(self, *, timeout: float = 5.0) -> None:
        """Stop every informer."""
        self._running = False
        for name in list(self._informers):
            await self.supervisor.cancel(self._task_name(name), timeout=timeout)

    def all_synced(self) -> bool:
        """Whether every informer readiness waits for completed its first list."""
        return not self.not_synced()

    def not_synced(self) -> list[str]:
        """Names of informers still waiting for their first list."""
        return sorted(n for n, i in self._informers.items()
                      if not i.has_synced and n not in self._optional)

    async def wait_synced(self, timeout: float | None = None) -> bool:
        """Wait until every informer (including ones added meanwhile) synced."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pending = [i for n, i in self._informers.items()
                       if not i.has_synced and n not in self._optional]
            if not pending:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            # Wake at least every second so late additions are noticed.
            step = 1.0 if left is None else min(1.0, left)
            waits = [asyncio.ensure_future(i.wait_synced()) for i in pending]
            try:
                await asyncio.wait(waits, timeout=step)
            finally:
                for w in waits:
                    w.cancel()
