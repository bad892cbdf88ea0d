"""The controller's logic plugged into the process: watches -> triggers -> queue -> reconciler.

``autopilot run`` hands :func:`build_controller` the shared parts of the process
(:mod:`autopilot.runtime.process`); it loads the golden state, starts the watches
and answers with the reconcile function and the hooks.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from autopilot.controller.debug import ControllerDebug
from autopilot.controller.inputs import CacheInputs
from autopilot.controller.reconciler import Reconciler
from autopilot.controller.triggers import Triggers
from autopilot.controller.watches import Manager
from autopilot.golden.catalog import GoldenStateError, load_golden_state
from autopilot.golden.kinds import UnrenderableAsset, plural_of, rendered_objects
from autopilot.golden.live import LiveLookups
from autopilot.golden.locate import resolve_golden_state_dir
from autopilot.runtime.process import Parts, Wiring

log = structlog.get_logger("autopilot.manager")


class ControllerError(Exception):
    """The controller cannot start (e.g. an invalid golden state); one line."""


async def build_controller(parts: Parts) -> Wiring:
    """Build the controller logic for ``autopilot run``; raises :class:`ControllerError`."""
    try:
        golden = load_golden_state(resolve_golden_state_dir(parts.config.golden_state))
        managed_kinds = {
            (str(o["apiVersion"]), str(o["kind"])) for _, o in rendered_objects(golden)[0]
        }
    except (GoldenStateError, UnrenderableAsset) as exc:
        raise ControllerError(f"invalid golden state: {exc}") from None
    manager = Manager(parts, golden)
    manager.wanted = managed_kinds
    loop = asyncio.get_running_loop()
    lookups = LiveLookups(client=parts.client, resource_for=manager.resource_for, loop=loop)
    manager.lookups = lookups
    reconciler = Reconciler(
        golden=golden,
        client=parts.client,
        view=manager,
        events=parts.events,
        metrics=parts.metrics,
        inputs=CacheInputs(view=manager, namespace=parts.config.namespace, lookups=lookups),
        gate_kinds={
            f"{plural_of(kind, dict(golden.plurals))}.{av.rpartition('/')[0]}":
                (av.rpartition("/")[0], av.rpartition("/")[2], kind)
            for av, kind in managed_kinds
        },
    )
    triggers = Triggers(
        golden=golden, reconciler=reconciler, enqueue=parts.queue.add, forget=parts.queue.forget
    )
    manager.reconciler, manager.triggers = reconciler, triggers
    manager.add_static_informers(triggers)
    try:
        await parts.mapper.refresh()
    except Exception as exc:
        log.warning("discovery failed at start; watches follow once it answers", error=str(exc))
    await manager.sync_kind_informers()
    parts.supervisor.spawn("kind-sync", manager.kind_sync_loop())
    log.info("golden state loaded", version=golden.version, assets=len(golden.assets),
             managed_kinds=len(managed_kinds))

    async def reconcile(key: Any) -> None:
        delay = await reconciler.reconcile(str(key))
        if delay is not None:
            parts.queue.add_after(key, delay)

    def on_resync() -> None:
        lookups.clear()
        # The task count lets a soak test see that nothing leaks between passes.
        log.info("resync", tasks=len(asyncio.all_tasks()))
        triggers.everything(tombstones=True)

    return Wiring(
        reconcile=reconcile,
        on_leading=lambda: triggers.everything(tombstones=True),
        on_resync=on_resync,
        debug=ControllerDebug(reconciler),
    )
