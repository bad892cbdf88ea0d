"""Tombstoned objects seen through watches, so a sweep asks the cache, not the API server.

A tombstone names one object, which may or may not carry our label (a migration
tombstone names the reference operator's object; an unlabelled one is skipped, not
deleted, and the sweep must tell it from an absent one): its watch selects by name,
never by label. Which watch answers for it, decided by the informers' selections:

- an informer the controller runs anyway that covers the object whatever its labels
  and keeps it whole, or at least what the sweep reads of it
  (:mod:`autopilot.runtime.coverage`, :mod:`autopilot.controller.summaries`): no watch
  of its own, and that informer's events of the object enqueue the sweep;
- else, the only tombstone of its kind: a watch of its name alone; several: one watch
  of the kind shared by its tombstones, whose cache keeps only the tombstoned objects
  (:mod:`autopilot.controller.keyed_watches`): a watch of every ClusterRoleBinding does
  not cache every binding of the cluster.

A tombstone watch asks for metadata only (``PartialObjectMetadata``: a watch of a
whole kind for a few names transfers no object's spec) and its cache keeps what the
sweep reads: the name, the ownership label and the ``mode`` annotation. Any change
of a tombstoned object enqueues a sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from autopilot.controller.keyed_watches import Wanted, only_keys, watches_of_keys
from autopilot.controller.summaries import keeps_sweep_view
from autopilot.controller.summaries import sweep_view as reduce_tombstoned
from autopilot.golden.tombstones import Tombstone
from autopilot.kube.cachefeed import EventHandler
from autopilot.kube.informer import Selection
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.store import Key
from autopilot.runtime.coverage import covering, selects
from autopilot.runtime.informer_set import InformerSet

# The sweep's view of one tombstoned object: None when no synced watch covers it (read
# the API server), else (the reduced object, or None when it does not exist).
Seen = tuple[dict[str, Any] | None] | None
ResourceFor = Callable[[str, str], ResourceInfo | None]

def tombstone_informer(tomb: Tombstone) -> str:
    """Name of the informer watching one tombstoned object alone."""
    return f"tombstone/{tomb.api_version}/{tomb.kind}/{tomb.namespace}/{tomb.name}"


def shared_tombstone_informer(api_version: str, kind: str) -> str:
    """Name of the informer watching the tombstoned objects of a kind with several."""
    return f"tombstones/{api_version}/{kind}"


def _key(tomb: Tombstone, res: ResourceInfo) -> Key:
    return (tomb.namespace if res.namespaced else "", tomb.name)


def covered_by(res: ResourceInfo, *, namespace: str, name: str,
               others: Mapping[str, Wanted]) -> str | None:
    """The wanted informer in ``others`` that would keep the object whole, or at least
    what the sweep reads of it (:mod:`autopilot.controller.summaries`), if any."""
    ns = namespace if res.namespaced else ""
    for inf_name, (other_res, select, _) in others.items():
        if other_res == res and select.keep is None and keeps_sweep_view(select) and selects(
                select, res, namespace=ns, name=name):
            return inf_name
    return None


def wanted_tombstone_watches(
    tombstones: Iterable[Tombstone], *, resource_for: ResourceFor, handler: EventHandler,
    others: Mapping[str, Wanted],
) -> tuple[dict[str, Wanted], dict[str, EventHandler]]:
    """The informers the tombstones need (resource None: stop it if it runs), and the
    handlers to add to those of ``others`` that cover tombstones whole."""
    groups: dict[tuple[str, str], list[Tombstone]] = {}
    for tomb in tombstones:
        groups.setdefault((tomb.api_version, tomb.kind), []).append(tomb)
    wanted: dict[str, Wanted] = {}
    extra: dict[str, list[Key]] = {}
    for (api_version, kind), tombs in groups.items():
        res = resource_for(api_version, kind)
        # Every name this kind's tombstones could use: those not chosen stop if they run.
        shared = shared_tombstone_informer(api_version, kind)
        for name in [shared, *(tombstone_informer(t) for t in tombs)]:
            wanted[name] = (None, Selection(), handler)
        if res is None:
            continue
        own = []
        for tomb in tombs:
            cover = covered_by(res, namespace=tomb.namespace, name=tomb.name, others=others)
            if cover is None:
                own.append(tomb)
            else:
                extra.setdefault(cover, []).append(_key(tomb, res))
        wanted.update(_own_watches(own, res, handler))
    return wanted, {name: only_keys(frozenset(keys), handler) for name, keys in extra.items()}


def _own_watches(tombs: list[Tombstone], res: ResourceInfo, handler: EventHandler
                 ) -> dict[str, Wanted]:
    """One watch of a lone tombstone's name, or one kind-wide watch keeping only theirs."""
    if not tombs:
        return {}
    by_key = {_key(tomb, res): tomb for tomb in tombs}
    return watches_of_keys(
        frozenset(by_key), res=res, handler=handler,
        alone=lambda key: tombstone_informer(by_key[key]),
        shared=shared_tombstone_informer(tombs[0].api_version, tombs[0].kind),
        select=Selection(transform=reduce_tombstoned, metadata_only=True))


@dataclass(frozen=True, slots=True)
class TombstoneWatch:
    """Answers the sweep from the informer that covers each tombstoned object."""

    informers: InformerSet
    resource_for: ResourceFor

    def seen(self, tomb: Tombstone) -> Seen:
        """The object as a watch shows it, or None when no synced watch covers it."""
        res = self.resource_for(tomb.api_version, tomb.kind)
        if res is None:
            return None
        namespace, name = _key(tomb, res)
        cover = covering(self.informers, res, namespace=namespace, name=name,
                         accept=keeps_sweep_view)
        if cover is not None:
            obj = cover.get(namespace=namespace, name=name)
            return (None if obj is None else reduce_tombstoned(obj),)
        for watch in (tombstone_informer(tomb),
                      shared_tombstone_informer(tomb.api_version, tomb.kind)):
            inf = self.informers.get(watch)
            if inf is not None and inf.resource == res:
                return (inf.store.get(namespace or None, name),) if inf.has_synced else None
        return None
