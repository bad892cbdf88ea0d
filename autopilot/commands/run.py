"""`autopilot run`: the controller process.

Wires the shared pieces (client, discovery, informers, work queue, leader
election, event recorder, metrics, HTTP servers) and hands them to a
*reconcile factory* that plugs in the controller logic. On SIGTERM/SIGINT it
logs why, stops taking work, finishes the item in hand, releases the Lease and
exits 0 within 10 seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from autopilot import __version__, web
from autopilot.cli import UsageError
from autopilot.config import ConfigError, RunConfig, add_run_arguments, config_from_args
from autopilot.kube import client as kube_client
from autopilot.kube.client import KubeClient
from autopilot.kube.discovery import RestMapper
from autopilot.kube.events import EventRecorder
from autopilot.observability.logging import configure_logging
from autopilot.observability.metrics import Metrics
from autopilot.runtime.informer_set import InformerSet
from autopilot.runtime.leader import LeaderElector, default_identity
from autopilot.runtime.supervisor import TaskSupervisor
from autopilot.runtime.workers import Hook, Reconcile, Runtime
from autopilot.runtime.workqueue import WorkQueue

log = structlog.get_logger("autopilot.run")

# /healthz fails once the API server has been unreachable this long (seconds).
UNREACHABLE_ENV = "AUTOPILOT_API_UNREACHABLE_AFTER"
# SIGTERM to exit: the kubelet waits 30 s by default; we promise 10 s.
SHUTDOWN_BUDGET = 9.0


@dataclass
class Parts:
    """What a reconcile factory gets to build the controller logic from."""

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
    """What a reconcile factory returns."""

    reconcile: Reconcile
    on_leading: Hook | None = None  # e.g. enqueue every key when we start leading
    on_resync: Hook | None = None  # the periodic resync (``--resync-period``)
    debug: Any = None  # a web.DebugProvider for /debug/...; None = not served
    cleanup: Callable[[], Awaitable[None]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


ReconcileFactory = Callable[[Parts], Wiring | Awaitable[Wiring]]


def logging_factory(parts: Parts) -> Wiring:
    """Placeholder logic: log each key (used until the reconciler is plugged in)."""

    async def reconcile(key: Any) -> None:
        log.info("reconcile", key=str(key))

    return Wiring(reconcile=reconcile)


def _default_factory() -> ReconcileFactory:
    # The full controller wiring, when present, lives with the reconciler.
    try:
        manager = importlib.import_module("autopilot.controller.watches")
    except ImportError:
        return logging_factory
    factory = getattr(manager, "reconcile_factory", None)
    return factory if callable(factory) else logging_factory


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    p = subparsers.add_parser(
        "run",
        help="run the controller",
        description="Run the controller: keep the cluster in its Golden State.",
    )
    add_run_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Parse flags, set up logging and run the controller until a signal."""
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    configure_logging(fmt=config.log_format, level=config.log_level)
    return asyncio.run(run_controller(config))


async def run_controller(
    config: RunConfig, *, reconcile_factory: ReconcileFactory | None = None
) -> int:
    """Run the controller until SIGTERM/SIGINT; returns the exit code."""
    factory = reconcile_factory or _default_factory()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.info(f"received {sig.name} again; already shutting down")
            return
        log.info(f"received {sig.name}, shutting down", signal=sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)

    metrics = Metrics()
    try:
        client = await KubeClient.create(config.kubeconfig, metrics=metrics)
    except kube_client.ConfigError as exc:
        raise UsageError(str(exc)) from None

    identity = default_identity()
    supervisor = TaskSupervisor()
    informers = InformerSet(supervisor)
    queue: WorkQueue[Any] = WorkQueue(metrics=metrics)
    events = EventRecorder(client, instance=identity)
    parts = Parts(
        config=config,
        client=client,
        metrics=metrics,
        mapper=RestMapper(client),
        informers=informers,
        supervisor=supervisor,
        queue=queue,
        events=events,
        identity=identity,
    )
    state = _State(client=client, events=events, supervisor=supervisor, informers=informers)

    async def start() -> None:
        log.info(
            "starting",
            version=__version__,
            namespace=config.namespace,
            leader_elect=config.leader_elect,
            workers=config.workers,
            server=client.host,
        )
        # Probes answer from the first moment: alive, not ready until caches sync.
        state.served.append(await web.serve(web.metrics_app(metrics), config.metrics_bind_address))
        state.served.append(await web.serve(
            web.health_app(healthz=state.healthz, readyz=state.readyz),
            config.health_probe_bind_address,
        ))
        built = factory(parts)
        wiring = state.wiring = await built if inspect.isawaitable(built) else built
        elector = (
            LeaderElector(client, namespace=config.namespace, identity=identity, metrics=metrics)
            if config.leader_elect
            else None
        )
        if elector is None:
            metrics.set_leader(True)
        state.runtime = Runtime(
            reconcile=wiring.reconcile,
            informers=informers,
            workers=config.workers,
            elector=elector,
            metrics=metrics,
            queue=queue,
            supervisor=supervisor,
            on_leading=wiring.on_leading,
            resync_period=config.resync_period or None,
            on_resync=wiring.on_resync,
        )
        if config.debug_bind_address and wiring.debug is not None:
            state.served.append(
                await web.serve(web.debug_app(wiring.debug), config.debug_bind_address)
            )
        supervisor.spawn("events", events.run())
        await state.runtime.start()

    try:
        # A signal during start-up (slow discovery, say) must not wait for it to finish.
        starting = asyncio.create_task(start())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # start-up errors end the process with their one line
            await stopped
        else:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
    finally:
        try:
            await asyncio.wait_for(state.shutdown(), timeout=SHUTDOWN_BUDGET)
        except TimeoutError:
            log.error("shutdown did not finish in time; exiting anyway")
    log.info("stopped")
    return 0


def _unreachable_after() -> float:
    """Seconds of failing API requests before /healthz fails (env for tests; default 30)."""
    try:
        return max(1.0, float(os.environ.get(UNREACHABLE_ENV, "30")))
    except ValueError:
        return 30.0


@dataclass
class _State:
    """What is running, for the probes and for shutdown."""

    client: KubeClient
    events: EventRecorder
    supervisor: TaskSupervisor
    informers: InformerSet
    runtime: Runtime | None = None
    wiring: Wiring | None = None
    served: list[web.Served] = field(default_factory=list)

    def healthz(self) -> tuple[bool, str]:
        ok, reason = self.client.reachability(unhealthy_after=_unreachable_after())
        if not ok:
            return ok, reason
        return self.runtime.healthz() if self.runtime is not None else (True, "starting")

    def readyz(self) -> tuple[bool, str]:
        return self.runtime.readyz() if self.runtime is not None else (False, "starting")

    async def shutdown(self) -> None:
        try:
            if self.runtime is not None:
                await self.runtime.stop(timeout=6.0)
            else:  # stopped during start-up: whatever the factory started
                await self.informers.stop(timeout=2.0)
                await self.supervisor.stop(timeout=2.0)
            try:
                await self.events.drain(timeout=1.0)
            except Exception as exc:
                log.debug("event drain failed", error=str(exc))
            if self.wiring is not None and self.wiring.cleanup is not None:
                await self.wiring.cleanup()
        finally:
            for server in self.served:
                await server.close()
            await self.client.close()
