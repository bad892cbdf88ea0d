"""The controller's watches: informers -> triggers -> queue.

This module decides what to watch (the HCO, nodes, namespaces, CRDs,
the OpenShift config objects, every managed kind through the ownership
label, and the tombstoned objects by name), which handlers hear each watch
(the cache's node counter, the triggers, the sweep), and keeps those watches
in step with the CRDs installed at run time. The caches are read through
:class:`~autopilot.controller.cache.ClusterCache`.

A managed kind the golden state declares ``few_per_cluster`` is watched whole, not
through the label: its cache then covers every object of the kind whatever its
labels (:mod:`autopilot.runtime.coverage`), so an adoption read needs no census,
and a template lookup, a tombstone or the HyperConverged's own watch of that kind
needs no second watch. A kind declared ``hundreds_per_cluster`` is watched whole too,
but its cache keeps only our objects, and those whose names the golden state renders
(``Selection.whole_keys``), whole; every other as what a sweep reads
(:mod:`autopilot.controller.summaries`): adoption needs no census and a tombstone no
watch. A kind declared ``in_one_namespace`` is watched the same way, in the one
namespace the golden state renders it into. A kind declared ``by_name`` is watched
for its rendered objects alone: one object by its name, several in one watch of the
kind whose cache keeps those alone (``Selection.keep``). Either way the reconcile
trigger hears only what a label-selected watch would show (:func:`as_labelled`): an
unlabelled object causes no work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from autopilot import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.controller import keys
from autopilot.controller.cache import (
    CRDS_INFORMER,
    HCO_INFORMER,
    NAMESPACES_INFORMER,
    NODES_INFORMER,
    ClusterCache,
    config_informer,
    crd_established,
    managed_informer,
    managed_object_informer,
)
from autopilot.controller.keyed_watches import Wanted, only_keys, watches_of_keys
from autopilot.controller.lookup_watches import LISTED_KINDS
from autopilot.controller.summaries import KeepOursWhole, is_ours, summary_for
from autopilot.controller.tombstone_watch import covered_by, wanted_tombstone_watches
from autopilot.controller.triggers import EventHandler, Triggers
from autopilot.golden.context import reduce_node as reduce_node_for_detection
from autopilot.golden.tombstones import Tombstone
from autopilot.kube.informer import Informer, Selection
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.store import Key
from autopilot.kube.wellknown import (
    CONFIG_KINDS,
    CONFIG_NAME,
    CRDS,
    HCO,
    HCO_NAME,
    NAMESPACES,
    NODES,
)
from autopilot.runtime.process import Parts

log = structlog.get_logger("autopilot.manager")

SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"


def _reduce_crd(crd: dict[str, Any]) -> dict[str, Any]:
    """Keep what kind tracking needs of a CRD (schemas are large and read on demand)."""
    spec = crd.get("spec") or {}
    return {
        "metadata": {k: v for k, v in (crd.get("metadata") or {}).items()
                     if k in ("name", "resourceVersion", "uid", "deletionTimestamp")},
        "spec": {"group": spec.get("group"), "names": spec.get("names"),
                 "scope": spec.get("scope"),
                 "versions": [{"name": v.get("name"), "served": v.get("served")}
                              for v in spec.get("versions") or []]},
        "established": crd_established(crd),
    }


def _bare(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without its resourceVersion: what changed beyond the version."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


def served_by(crd: dict[str, Any]) -> list[ResourceInfo]:
    """The resources a CRD serves: one per served version once it is established, none
    while it is going away (its objects are being deleted, new ones refused)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
    if not (crd_established(crd) and group and kind and plural) or (
            crd.get("metadata") or {}).get("deletionTimestamp"):
        return []
    return [ResourceInfo(str(group), str(v["name"]), str(kind), str(plural),
                         spec.get("scope") == "Namespaced")
            for v in spec.get("versions") or [] if v.get("served") and v.get("name")]


def _both(first: EventHandler, then: EventHandler) -> EventHandler:
    def on_event(event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        first(event, obj, old)
        then(event, obj, old)
    return on_event


def as_labelled(handler: EventHandler) -> EventHandler:
    """``handler`` hearing a kind-wide watch as a watch selecting our label would show it:
    an object gaining the label is ADDED, one losing it DELETED, others are not heard."""
    def on_event(event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        before = old is not None and is_ours(old)
        if event == "DELETED":
            if before or is_ours(obj):
                handler(event, obj, old)
        elif is_ours(obj):
            handler("MODIFIED" if before else "ADDED", obj, old if before else None)
        elif before:
            handler("DELETED", obj, old)
    return on_event


def _object_informer(api_version: str, kind: str) -> Callable[[Key], str]:
    """The name of the informer watching one object of the kind alone."""
    return lambda key: managed_object_informer(api_version, kind, *key)


def _reduce_namespace(ns: dict[str, Any]) -> dict[str, Any]:
    meta = ns.get("metadata") or {}
    return {"metadata": {"name": meta.get("name"), "resourceVersion": meta.get("resourceVersion")}}


@dataclass(frozen=True)
class KindScopes:
    """Which managed kinds are watched whole, by (group, kind): those kept whole
    (``few_per_cluster``), those whose objects not ours are kept as a summary
    (``hundreds_per_cluster``), those watched so in their one namespace, and those
    whose objects are each watched by name (``by_name``)."""

    few_per_cluster: frozenset[tuple[str, str]] = frozenset()
    hundreds_per_cluster: frozenset[tuple[str, str]] = frozenset()
    one_namespace: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # (namespace, name) of every object the golden state renders, by (group, kind): a
    # kind-wide watch keeps those whole whatever their labels, so an object with a
    # managed name made by someone else is read from the cache, not the API server.
    rendered: Mapping[tuple[str, str], frozenset[Key]] = field(default_factory=dict)
    # Kinds each of whose rendered objects is watched by its name (whole).
    by_name: frozenset[tuple[str, str]] = frozenset()


class Watches:
    """Owns the informers of the controller and keeps the kind watches in step with CRDs."""

    def __init__(
        self,
        parts: Parts,
        *,
        cache: ClusterCache,
        triggers: Triggers,
        managed_kinds: set[tuple[str, str]],
        on_kinds_changed: Callable[[], Awaitable[None]],
        tombstones: Iterable[Tombstone] = (),
        scopes: KindScopes | None = None,
        crds_whole: frozenset[str] = frozenset(),
    ) -> None:
        self.parts = parts
        self.namespace = parts.config.namespace
        self.cache = cache
        self.triggers = triggers
        # (apiVersion, kind) of everything the golden state can render.
        self.wanted = set(managed_kinds)
        # Which managed kinds are watched whole, and where (the golden state says).
        self.scopes = scopes or KindScopes()
        # CRDs the templates read whole (by name): the CRDs' watch keeps them so.
        self.crds_whole = crds_whole
        # Kinds came or went (discovery refreshed): template lookups may now answer
        # differently.
        self.on_kinds_changed = on_kinds_changed
        self.tombstones = tuple(tombstones)
        self._kinds_dirty = asyncio.Event()

    def _informer(self, res: ResourceInfo, select: Selection, *, name: str | None = None
                  ) -> Informer:
        return Informer(self.parts.client, res, select=select, metrics=self.parts.metrics,
                        name=name)

    def add_static_informers(self) -> None:
        """Watches that exist whatever is installed: CRDs, nodes, namespaces."""
        informers, triggers = self.parts.informers, self.triggers
        # Schemas are large: kept only of the CRDs the templates read whole (crd_enum).
        crds = informers.add(CRDS_INFORMER, self._informer(CRDS, Selection(
            transform=_reduce_crd, whole_keys=frozenset(("", n) for n in self.crds_whole))))
        crds.add_handler(self._on_crd)
        # Cache only what detection reads: heartbeats and unrelated label/annotation
        # churn then compare equal and fan out to nothing.
        nodes = informers.add(
            NODES_INFORMER, self._informer(NODES, Selection(transform=reduce_node_for_detection))
        )
        nodes.add_handler(self.cache.on_node)
        nodes.add_handler(triggers.on_node)
        # Every namespace's name (the namespace guard, the triggers), and our own whole:
        # this one watch also serves the managed Namespace kind (cache.managed_informer).
        nss = informers.add(NAMESPACES_INFORMER, self._informer(NAMESPACES, Selection(
            transform=KeepOursWhole(_reduce_namespace),
            whole_keys=self.scopes.rendered.get(("", NAMESPACES.kind), frozenset()))))
        nss.add_handler(triggers.on_namespace)
        if (NAMESPACES.api_version, NAMESPACES.kind) in self.wanted:
            nss.add_handler(as_labelled(triggers.on_managed))

    def _on_crd(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Serve a CRD's kinds from the moment it is established (discovery follows it
        a moment later on a real server, and is not waited for)."""
        name = str((obj.get("metadata") or {}).get("name", ""))
        served = [] if event == "DELETED" else served_by(obj)
        before = [] if old is None else served_by(old)
        self.parts.mapper.serve_crd(name, served)
        crds = self.parts.informers.get(CRDS_INFORMER)
        # The first list is what was installed before we started: the start-up's sync
        # of the kind watches follows it.
        if served == before or crds is None or not crds.has_synced:
            return
        self._kinds_dirty.set()
        spec = obj.get("spec") or {}
        kind = str((spec.get("names") or {}).get("kind", ""))
        relevant = any(k == kind and av.split("/")[0] == spec.get("group")
                       for av, k in self.wanted | {(HCO.api_version, HCO.kind)})
        if relevant and served and not before:
            self._platform_event("CRDDiscovered", f"{kind}.{spec.get('group')} is now installed")

    def _platform_event(self, reason: str, note: str) -> None:
        hco = self.cache.hco()
        if hco is not None:
            self.parts.events.emit(hco, type="Normal", reason=reason, note=note, action="Watch")

    def _wanted(self) -> dict[str, Wanted]:
        """Every kind-dependent informer: managed kinds, the HCO, the OpenShift config kinds,
        the tombstones' (none for one another of these keeps whole: it also sweeps)."""
        mapper, triggers = self.parts.mapper, self.triggers
        wanted = self._managed()
        hco_res = mapper.lookup(HCO.api_version, HCO.kind)
        hco_select = Selection(namespace=self.namespace, field_selector=f"metadata.name={HCO_NAME}")
        cover = None if hco_res is None else covered_by(
            hco_res, namespace=self.namespace, name=HCO_NAME, others=wanted)
        if cover is None:
            wanted[HCO_INFORMER] = (hco_res, hco_select, triggers.on_hco)
        else:  # the HCO's kind is watched whole: that watch tells the HCO's changes too
            res, select, handler = wanted[cover]
            wanted[cover] = (res, select, _both(handler, only_keys(
                frozenset({(self.namespace, HCO_NAME)}), triggers.on_hco)))
            wanted[HCO_INFORMER] = (None, hco_select, triggers.on_hco)
        for config in CONFIG_KINDS:
            wanted[config_informer(config.kind)] = (
                mapper.lookup(config.api_version, config.kind),
                Selection(field_selector=f"metadata.name={CONFIG_NAME}"),
                triggers.on_config,
            )
        tombs, sweep_on = wanted_tombstone_watches(
            self.tombstones, resource_for=mapper.lookup, handler=self._on_tombstoned,
            others=wanted)
        for name, sweep in sweep_on.items():  # a tombstoned object kept whole elsewhere
            res, select, handler = wanted[name]
            wanted[name] = (res, select, _both(handler, sweep))
        return {**wanted, **tombs}

    def _managed(self) -> dict[str, Wanted]:
        """The managed kinds' informers: label-selected, or kind-wide for the kinds the
        golden state declares few (kept whole) or hundreds (ours kept whole) per cluster."""
        wanted: dict[str, Wanted] = {}
        for api_version, kind in sorted(self.wanted):
            name = managed_informer(api_version, kind)
            if name == NAMESPACES_INFORMER:
                continue  # served by the namespaces' watch, which runs whatever is installed
            group_kind = (api_version.rpartition("/")[0], kind)
            # managedFields stay: they tell an owner flip, and who made it, from drift
            # of our own making (autopilot.antithrash.flips).
            scopes, res = self.scopes, self.parts.mapper.lookup(api_version, kind)
            if group_kind in scopes.by_name:
                wanted.update(watches_of_keys(
                    scopes.rendered.get(group_kind, frozenset()), res=res,
                    handler=as_labelled(self.triggers.on_managed), shared=name,
                    alone=_object_informer(api_version, kind)))
                continue
            if group_kind in scopes.few_per_cluster:
                select, handler = Selection(), as_labelled(self.triggers.on_managed)
            elif group_kind in scopes.hundreds_per_cluster or group_kind in scopes.one_namespace:
                # A kind the lookups list keeps what they read too: they borrow this watch.
                select = Selection(namespace=scopes.one_namespace.get(group_kind),
                                   transform=summary_for(LISTED_KINDS.get((api_version, kind))),
                                   whole_keys=scopes.rendered.get(group_kind, frozenset()))
                handler = as_labelled(self.triggers.on_managed)
            else:
                select, handler = Selection(label_selector=SELECTOR), self.triggers.on_managed
            wanted[name] = (res, select, handler)
        return wanted

    def _on_tombstoned(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None
                       ) -> None:
        """A tombstoned object appeared, changed what the sweep reads, or went: sweep."""
        if event == "MODIFIED" and old is not None and _bare(old) == _bare(obj):
            return
        self.parts.queue.add(keys.TOMBSTONES)

    async def sync_kind_informers(self) -> None:
        """Start watches for kinds that became served, stop those whose CRD went away."""
        informers = self.parts.informers
        await self.parts.mapper.refresh_for(self.wanted | {(HCO.api_version, HCO.kind)})
        changed = False
        for name, (res, select, handler) in self._wanted().items():
            current = informers.get(name)
            if res is None and current is not None:
                await informers.remove(name)
                log.info("kind no longer served; stopped watching", informer=name)
                changed = True
            elif res is not None and (current is None or current.resource != res):
                if current is not None:
                    await informers.remove(name)
                inf = self._informer(res, select, name=name)
                informers.add(name, inf).add_handler(handler)
                log.info("watching", informer=name)
                changed = True
        if changed:
            self.triggers.everything(tombstones=False)
        await self.on_kinds_changed()

    async def kind_sync_loop(self) -> None:
        """Keep kind watches in step with CRD changes (debounced)."""
        crds = self.parts.informers.get(CRDS_INFORMER)
        if crds is not None and not crds.has_synced:  # the start did not wait for it
            await crds.wait_synced()
            self._kinds_dirty.set()
        while True:
            await self._kinds_dirty.wait()
            await asyncio.sleep(0.2)  # fold a burst of CRD events into one pass
            self._kinds_dirty.clear()
            try:
                await self.sync_kind_informers()
            except Exception as exc:
                log.warning("could not update watches; will retry", error=str(exc))
                await asyncio.sleep(2.0)
                self._kinds_dirty.set()
