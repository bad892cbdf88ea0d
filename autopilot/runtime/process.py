"""The controller process: shared parts, probes, a signal-driven lifetime, a bounded shutdown.

:func:`run_controller` wires what every controller needs (client, discovery,
informers, work queue, leader election, event recorder, metrics, HTTP servers)
and hands it as :class:`Parts` to a *build* function that plugs in the logic
and answers with a :class:`Wiring`. On SIGTERM/SIGINT it logs why, stops taking
work, finishes the item in hand, releases the Lease and returns 0 within 10
seconds. Errors stay their own types (a kubeconfig problem, the build's own
error): turning them into one line for the user is the command's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp.web import Application

from autopilot import __version__, web
from autopilot.config import RunConfig
from autopilot.kube.builtins import BUILTIN_RESOURCES
from autopilot.kube.client import KubeClient
from autopilot.kube.discovery import RestMapper
from autopilot.kube.events import EventRecorder
from autopilot.observability.leader_view import (
    METRICS_URL_ANNOTATION,
    LeaderView,
    published_url,
)
from autopilot.observability.metrics import Metrics
from autopilot.runtime.heap import StartHeap
from autopilot.runtime.informer_set import InformerSet
from autopilot.runtime.leader import LeaderElector, default_identity
from autopilot.runtime.supervisor import TaskSupervisor
from autopilot.runtime.worker_pool import Reconcile
from autopilot.runtime.workers import Hook, Runtime
from autopilot.runtime.workqueue import WorkQueue

log = structlog.get_logger("autopilot.run")

# /healthz fails once the API server has been unreachable this long (seconds).
UNREACHABLE_ENV = "AUTOPILOT_API_UNREACHABLE_AFTER"
# SIGTERM to exit: the kubelet waits 30 s by default; we promise 10 s.
SHUTDOWN_BUDGET = 9.0


@dataclass
class Parts:
    """What a build function gets to make the controller logic from."""

    config: RunConfig
    client: KubeClient
    metrics: Metrics
    mapper: RestMapper
    informers: InformerSet
    supervisor: TaskSupervisor
    queue: WorkQueue[Any]
    events: EventRecorder
    identity: str


@dataclass
class Wiring:
    """What a build function returns."""

    reconcile: Reconcile
    on_leading: Hook | None = None  # e.g. enqueue every key when we start leading
    on_resync: Hook | None = None  # the periodic resync (``--resync-period``)
    debug: web.DebugProvider | None = None  # served on /debug/...; None = not served
    cleanup: Callable[[], Awaitable[None]] | None = None


Build = Callable[[Parts], Awaitable[Wiring]]


async def run_controller(config: RunConfig, *, build: Build) -> int:
    """Run the controller until SIGTERM/SIGINT; returns the exit code."""
    stop = _stop_on_signals()
    metrics = Metrics()
    client = await KubeClient.create(config.kubeconfig, metrics=metrics,
                                     context=config.context)
    process = _Process(parts=_parts(config, client, metrics))
    try:
        await _until(stop, process.start(build))
    finally:
        try:
            async with asyncio.timeout(SHUTDOWN_BUDGET):  # not wait_for: see kube/client.py
                await process.shutdown()
        except TimeoutError:
            log.error("shutdown did not finish in time; exiting anyway")
    log.info("stopped")
    return 0


def _stop_on_signals() -> asyncio.Event:
    """An event set by the first SIGTERM/SIGINT (a second one is only logged)."""
    stop = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.info(f"received {sig.name} again; already shutting down")
            return
        log.info(f"received {sig.name}, shutting down", signal=sig.name)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    return stop


def _parts(config: RunConfig, client: KubeClient, metrics: Metrics) -> Parts:
    identity = default_identity()
    supervisor = TaskSupervisor()
    queue: WorkQueue[Any] = WorkQueue(metrics=metrics)
    return Parts(
        config=config,
        client=client,
        metrics=metrics,
        mapper=RestMapper(client, builtins=BUILTIN_RESOURCES),
        informers=InformerSet(supervisor),
        supervisor=supervisor,
        queue=queue,
        # An observer (``run --observe``) writes no events either. Events wait for the
        # work in hand (at most 2 s): the server's CPU goes to the applies first.
        events=EventRecorder(client, instance=identity, silent=config.observe,
                             defer=queue.wait_quiet),
        identity=identity,
    )


async def _until(stop: asyncio.Event, start: Coroutine[Any, Any, None]) -> None:
    """Run ``start``, then wait for ``stop``; a signal during start-up cancels it."""
    # A signal during start-up (slow discovery, say) must not wait for it to finish.
    starting = asyncio.create_task(start)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if starting.done():
        starting.result()  # start-up errors end the process with their one line
        await stopped
    else:
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting


def _unreachable_after() -> float:
    """Seconds of failing API requests before /readyz fails (env for tests; default 30)."""
    try:
        return max(1.0, float(os.environ.get(UNREACHABLE_ENV, "30")))
    except ValueError:
        return 30.0


@dataclass
class _Process:
    """What is running, for the probes and for shutdown."""

    parts: Parts
    runtime: Runtime | None = None
    wiring: Wiring | None = None
    served: list[web.Served] = field(default_factory=list)
    elector: LeaderElector | None = None
    view: LeaderView | None = None
    heap: StartHeap = field(default_factory=StartHeap)

    async def start(self, build: Build) -> None:
        """Serve the probes, build the logic, then start the runtime (returns once started)."""
        parts, config = self.parts, self.parts.config
        self.heap.hold()  # until the first drain: see autopilot.runtime.heap
        log.info(
            "starting",
            version=__version__,
            namespace=config.namespace,
            leader_elect=config.leader_elect,
            workers=config.workers,
            server=parts.client.host,
        )
        # Probes answer from the first moment: alive, not ready until caches sync.
        self.view = LeaderView(metrics=parts.metrics, leader_url=self._leader_url)
        await self._serve(web.metrics_app(parts.metrics, view=self.view.exposition),
                          config.metrics_bind_address)
        metrics_server = self.served[-1]
        health = web.health_app(healthz=self.healthz, readyz=self.readyz)
        await self._serve(health, config.health_probe_bind_address)
        wiring = self.wiring = await build(parts)
        self.runtime = self._runtime(wiring, metrics_url=published_url(
            port=metrics_server.port, bind_host=metrics_server.host))
        if config.debug_bind_address and wiring.debug is not None:
            await self._serve(web.debug_app(wiring.debug), config.debug_bind_address)
        parts.supervisor.spawn("events", parts.events.run())
        await self.runtime.start()

    async def _serve(self, app: Application, bind: str) -> None:
        self.served.append(await web.serve(app, bind))

    def _leader_url(self) -> str | None:
        """Where the leader's own series are, when another replica leads."""
        elector = self.elector
        if elector is None or elector.is_leader:
            return None
        held = elector.holder_annotations()
        if held is None or held[0] == elector.identity:
            return None
        return held[1].get(METRICS_URL_ANNOTATION)

    def _runtime(self, wiring: Wiring, *, metrics_url: str) -> Runtime:
        parts, config = self.parts, self.parts.config
        elector = self.elector = (
            LeaderElector(
                parts.client, namespace=config.namespace, identity=parts.identity,
                metrics=parts.metrics, publish={METRICS_URL_ANNOTATION: metrics_url},
            )
            if config.leader_elect
            else None
        )
        if elector is None:
            parts.metrics.set_leader(True)
        return Runtime(
            reconcile=wiring.reconcile,
            informers=parts.informers,
            workers=config.workers,
            elector=elector,
            metrics=parts.metrics,
            queue=parts.queue,
            supervisor=parts.supervisor,
            on_leading=wiring.on_leading,
            resync_period=config.resync_period or None,
            on_resync=wiring.on_resync,
            on_drained=self.heap.settle,
        )

    def healthz(self) -> tuple[bool, str]:
        """Liveness: fails only when this process is stuck, never for the API server.

        A supervised loop died, or one stalled while the API server answers. (A blocked
        event loop cannot answer the probe at all, which the kubelet counts as a failure.)
        Restarting cannot bring an unreachable API server back, and would lose the
        in-memory edit-war evidence: that is readiness' business.
        """
        if self.runtime is None:
            return True, "starting"
        reachable, _ = self.parts.client.reachability(unhealthy_after=_unreachable_after())
        return self.runtime.healthz(api_reachable=reachable)

    def readyz(self) -> tuple[bool, str]:
        """Readiness: every cache synced and the API server reachable."""
        ok, reason = self.parts.client.reachability(unhealthy_after=_unreachable_after())
        if not ok:
            return ok, reason
        return self.runtime.readyz() if self.runtime is not None else (False, "starting")

    async def shutdown(self) -> None:
        """Stop the runtime (or what start-up began), drain events, close servers and client."""
        parts = self.parts
        try:
            if self.runtime is not None:
                await self.runtime.stop(timeout=6.0)
            else:  # stopped during start-up: whatever the build started
                await parts.informers.stop(timeout=2.0)
                await parts.supervisor.stop(timeout=2.0)
            try:
                await parts.events.drain(timeout=1.0)
            except Exception as exc:
                log.debug("event drain failed", error=str(exc))
            if self.wiring is not None and self.wiring.cleanup is not None:
                await self.wiring.cleanup()
            if self.view is not None:
                await self.view.close()
        finally:
            for server in self.served:
                await server.close()
            await parts.client.close()
