"""The controller's logic plugged into the process: watches -> triggers -> queue -> reconciler.

``autopilot run`` hands :func:`build_controller` the shared parts of the process
(:mod:`autopilot.runtime.process`); it loads the golden state and builds every
part of the controller here, in one place: the cache view, the state book, the
verdict memory, the edit-war gate, the object pass, the sweeper, the progress
reports, the reconciler, the triggers, the watches and the debug views. Each is
given only the ports it uses (:mod:`autopilot.controller.ports`). It then starts
the watches and answers with the reconcile function and the hooks.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog

from autopilot.antithrash.detector import EditWarDetector
from autopilot.antithrash.pause import EditWarGate
from autopilot.controller import keys
from autopilot.controller.adoption import AdoptionReads
from autopilot.controller.cache import CRDS_INFORMER, ClusterCache
from autopilot.controller.cache_inputs import CacheInputs
from autopilot.controller.debug import ControllerDebug
from autopilot.controller.hco_context import ContextReports
from autopilot.controller.lookup_watches import WatchedLookups
from autopilot.controller.object_pass import ObjectPass
from autopilot.controller.progress import Progress
from autopilot.controller.rechecks import Rechecks
from autopilot.controller.reconciler import Reconciler
from autopilot.controller.replacements import ReplacementCheck
from autopilot.controller.state import StateBook
from autopilot.controller.sweeper import TombstoneSweeper
from autopilot.controller.tombstone_watch import TombstoneWatch
from autopilot.controller.triggers import Triggers
from autopilot.controller.watches import KindScopes, Watches
from autopilot.golden.asked import crds_read_by_name
from autopilot.golden.catalog import GoldenState, GoldenStateError, load_golden_state
from autopilot.golden.kinds import (
    UnrenderableAsset,
    one_namespace_of,
    plural_of,
    rendered_keys,
    rendered_objects,
)
from autopilot.golden.locate import resolve_golden_state_dir
from autopilot.kube.informer import Informer
from autopilot.runtime.process import Parts, Wiring

log = structlog.get_logger("autopilot.manager")
# How long the start waits for the CRDs' first list before starting the watches it
# can (built-in kinds); the others follow the list.
CRD_LIST_WAIT = 10.0


class ControllerError(Exception):
    """The controller cannot start (e.g. an invalid golden state); one line."""


async def build_controller(parts: Parts) -> Wiring:
    """Build the controller logic for ``autopilot run``; raises :class:`ControllerError`."""
    golden, managed_kinds, scopes = _load(parts)
    cache = ClusterCache(
        informers=parts.informers, mapper=parts.mapper, namespace=parts.config.namespace
    )

    def rerender(assets: set[str]) -> None:
        for asset in sorted(assets):
            parts.queue.add(keys.asset_key(asset))

    lookups = WatchedLookups(
        client=parts.client, informers=parts.informers, resource_for=cache.resource_for,
        loop=asyncio.get_running_loop(), metrics=parts.metrics, rerender=rerender,
    )
    reconciler, debug, rechecks = _reconciler(
        parts, golden=golden, cache=cache, managed_kinds=managed_kinds,
        inputs=CacheInputs(view=cache, namespace=parts.config.namespace, lookups=lookups,
                           lookups_for=lookups.for_asset),
    )
    triggers = Triggers(
        golden=golden, book=reconciler.book, force=rechecks,
        enqueue=parts.queue.add, forget=parts.queue.forget,
    )

    async def kinds_changed() -> None:
        # The kinds each render could apply may differ now: no stored render holds,
        # and the lookups whose kind moved re-render their users.
        reconciler.intents.clear()
        await lookups.kinds_changed()

    watches = Watches(
        parts, cache=cache, triggers=triggers, managed_kinds=managed_kinds,
        on_kinds_changed=kinds_changed,
        # An observer deletes nothing, so it watches no tombstoned object either.
        tombstones=() if parts.config.observe else golden.tombstones,
        scopes=scopes,
        crds_whole=crds_read_by_name(golden),
    )
    await _start(parts, watches)
    log.info("golden state loaded", version=golden.version, assets=len(golden.assets),
             managed_kinds=len(managed_kinds))

    async def reconcile(key: Any) -> None:
        delay = await reconciler.reconcile(str(key))
        if delay is not None:
            parts.queue.add_after(key, delay)

    def on_resync() -> None:
        # Nothing to refresh: the lookups and the sweep answer from watches.
        # The task count lets a soak test see that nothing leaks between passes.
        log.info("resync", tasks=len(asyncio.all_tasks()))
        triggers.everything(tombstones=True)

    return Wiring(
        reconcile=reconcile,
        on_leading=lambda: triggers.everything(tombstones=True),
        on_resync=on_resync,
        debug=debug,
    )


def _reconciler(
    parts: Parts, *, golden: GoldenState, cache: ClusterCache, inputs: CacheInputs,
    managed_kinds: set[tuple[str, str]],
) -> tuple[Reconciler, ControllerDebug, Rechecks]:
    """The reconciler and the parts it drives; the debug views over the same parts."""
    client, events, metrics = parts.client, parts.events, parts.metrics
    book = StateBook()
    gate = EditWarGate(client=client, events=events, metrics=metrics,
                       detector=EditWarDetector(window=parts.config.edit_war_window))
    rechecks = Rechecks(resumable=gate)
    progress = Progress(
        asset_count=len(golden.assets), events=events, metrics=metrics,
        compliant_count=lambda: sum(1 for st in book.all_objects() if st.compliance == 1),
        gate_kinds=_gate_kinds(golden, managed_kinds),
    )
    observe = parts.config.observe
    if observe:
        log.info("observe mode: nothing is written; drift is reported as 'would apply'",
                 tombstones="not swept (autopilot plan lists their deletes)",
                 events="none", leader_election="off")
    sweeper = TombstoneSweeper(
        # An observer deletes nothing: `autopilot plan` lists what the tombstones would.
        tombstones=() if observe else golden.tombstones, client=client, view=cache,
        events=events, metrics=metrics,
        check=ReplacementCheck(book=book, reconciled=progress.reconciled),
        seen=TombstoneWatch(parts.informers, resource_for=cache.resource_for).seen,
    )
    adoption = AdoptionReads(client=client, informers=parts.informers)
    objects = ObjectPass(client=client, view=cache, events=events, metrics=metrics, book=book,
                         rechecks=rechecks, edit_war=gate, adoption=adoption, observe=observe)
    reconciler = Reconciler(
        golden=golden, view=cache, inputs=inputs, book=book, objects=objects, sweeper=sweeper,
        progress=progress, reports=ContextReports(events=events), pending=parts.queue.pending,
    )
    debug = ControllerDebug(
        golden=golden, view=cache, inputs=inputs, objects=book, edit_wars=gate.detector,
        tombstone_status=sweeper, dependencies=progress,
    )
    return reconciler, debug, rechecks


def _load(parts: Parts) -> tuple[GoldenState, set[tuple[str, str]], KindScopes]:
    """The golden state, the (apiVersion, kind) of everything it can render, and how
    its kinds are watched (from the catalogue and what it renders)."""
    try:
        golden = load_golden_state(resolve_golden_state_dir(parts.config.golden_state))
        objects = rendered_objects(golden, namespace=parts.config.namespace)[0]
        managed_kinds = {(str(o["apiVersion"]), str(o["kind"])) for _, o in objects}
        scopes = KindScopes(golden.few_per_cluster, golden.hundreds_per_cluster,
                            one_namespace_of(golden, objects), rendered_keys(objects),
                            by_name=golden.by_name)
    except (GoldenStateError, UnrenderableAsset) as exc:
        raise ControllerError(f"invalid golden state: {exc}") from None
    return golden, managed_kinds, scopes


def _gate_kinds(
    golden: GoldenState, managed_kinds: set[tuple[str, str]]
) -> dict[str, tuple[str, str, str]]:
    """Gate CRD name -> (group, version, kind), to report what is really missing."""
    return {
        f"{plural_of(kind, dict(golden.plurals))}.{av.rpartition('/')[0]}":
            (av.rpartition("/")[0], av.rpartition("/")[2], kind)
        for av, kind in managed_kinds
    }


async def _start(parts: Parts, watches: Watches) -> None:
    """Start the watches; the kind watches follow the CRDs (their first list, and every
    change after it)."""
    watches.add_static_informers()
    parts.informers.start()  # the CRDs' list now; every watch added later starts at once
    crds = parts.informers.get(CRDS_INFORMER)
    if crds is not None and not await _listed_or_failed(crds, timeout=CRD_LIST_WAIT):
        log.warning("CRDs not listed yet at start; the kind watches follow once they are",
                    error=crds.last_error)
    await watches.sync_kind_informers()
    parts.supervisor.spawn("kind-sync", watches.kind_sync_loop())


async def _listed_or_failed(informer: Informer, *, timeout: float) -> bool:
    """Wait for ``informer``'s first list, no longer than ``timeout`` and no longer than
    its first failure (the start goes on then; the list is retried meanwhile)."""
    deadline = time.monotonic() + timeout
    while informer.last_error is None and time.monotonic() < deadline:
        if await informer.wait_synced(min(0.05, max(0.0, deadline - time.monotonic()))):
            return True
    return informer.has_synced
