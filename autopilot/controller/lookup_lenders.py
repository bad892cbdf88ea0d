"""Template lookups answered by an informer the controller runs anyway: :class:`Lenders`.

A lookup of one named object would start a watch of that object alone
(:mod:`autopilot.controller.lookup_watches`). When a listed informer already covers
the object whatever its labels (:mod:`autopilot.runtime.coverage`), keeping it whole
for a get, or at all for an existence question, that informer *lends* its cache: no
watch starts, and its events of the object reach the lookups as their own watch's
would. A listing of a whole kind is lent the same way by an informer of the whole kind that
keeps what the listing reads (:mod:`autopilot.controller.summaries`). A lender that
stops (its kind moved) is forgotten; the next question finds another, or starts the
lookup's own watch. Used on the event loop only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from autopilot.controller.summaries import keeps_listing
from autopilot.kube.informer import Informer, Selection, Transform, object_key
from autopilot.kube.resources import ResourceInfo
from autopilot.runtime.coverage import covering
from autopilot.runtime.informer_set import InformerSet

log = structlog.get_logger("autopilot.lookups")

# (lookup watch name, event type, object, previous object)
Changed = Callable[[str, str, dict[str, Any], dict[str, Any] | None], None]


class Lenders:
    """The informers lending their caches to named lookups, by lookup watch name."""

    def __init__(self, *, informers: InformerSet, changed: Changed) -> None:
        self._informers = informers
        self._changed = changed
        self._lent: dict[str, Informer] = {}

    def lender(self, watch_name: str, *, res: ResourceInfo, named: tuple[str, str],
               whole: bool) -> Informer | None:
        """The informer lending to ``watch_name`` (found now if none yet), or None."""
        held = self._lent.pop(watch_name, None)
        if held is not None and held.resource == res and self._running(held):
            self._lent[watch_name] = held
            return held
        namespace, name = named
        key = (namespace if res.namespaced else "", name)
        cover = covering(self._informers, res, namespace=key[0], name=name, whole=whole)
        if cover is None:
            return None
        cover.informer.add_handler(lambda event, obj, old: self._changed(
            watch_name, event, obj, old) if object_key(obj) == key else None)
        self._lent[watch_name] = cover.informer
        log.info("template lookup answered by a running watch", lookup=watch_name,
                 informer=cover.name)
        return cover.informer

    def lend(self, watch_name: str, *, res: ResourceInfo, named: tuple[str, str] | None,
             whole: bool, listing: Transform | None) -> Informer | None:
        """The lender of a named lookup (``named``), or of a listing reduced by ``listing``."""
        if named is not None:
            return self.lender(watch_name, res=res, named=named, whole=whole)
        if listing is not None:
            return self.listing_lender(watch_name, res=res,
                                       keeps=lambda select: keeps_listing(select, listing))
        return None

    def listing_lender(self, watch_name: str, *, res: ResourceInfo,
                       keeps: Callable[[Selection], bool]) -> Informer | None:
        """The informer lending every object of ``res`` to the listing ``watch_name``
        (found now if none yet: one of the whole kind, in every namespace, keeping what
        ``keeps`` asks), or None."""
        held = self._lent.pop(watch_name, None)
        if held is not None and held.resource == res and self._running(held):
            self._lent[watch_name] = held
            return held
        for inf_name, inf in self._informers.items():
            select = inf.select
            if (inf.resource != res or select.namespace is not None or select.label_selector
                    or select.field_selector or select.keep is not None or not keeps(select)):
                continue
            inf.add_handler(lambda event, obj, old: self._changed(watch_name, event, obj, old))
            self._lent[watch_name] = inf
            log.info("template lookup answered by a running watch", lookup=watch_name,
                     informer=inf_name)
            return inf
        return None

    def moved(self, watch_name: str, res: ResourceInfo | None) -> bool | None:
        """After a discovery change: None when nothing lends to ``watch_name``; else
        whether its lender stopped or its kind moved (then it is forgotten)."""
        held = self._lent.get(watch_name)
        if held is None:
            return None
        if held.resource == res and self._running(held):
            return False
        del self._lent[watch_name]
        return True

    def _running(self, inf: Informer) -> bool:
        return any(running is inf for _, running in self._informers.items())
