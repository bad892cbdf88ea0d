"""The watch caches as the reconciler reads them: :class:`ClusterCache`.

Read-only over the informer stores that :mod:`autopilot.controller.watches`
keeps running, and the one implementation of
:class:`~autopilot.controller.ports.ClusterView`. The informers are found by the
names defined here, so the watches and the reads cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from autopilot.controller.summaries import is_summary
from autopilot.controller.triggers import detection_view
from autopilot.kube.discovery import RestMapper
from autopilot.kube.informer import Informer
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.wellknown import CONFIG_NAME, HCO, HCO_NAME, NAMESPACES
from autopilot.runtime.coverage import keeps_whole, selects
from autopilot.runtime.informer_set import InformerSet

# Names of the informers in the informer set.
HCO_INFORMER = "hco"
NODES_INFORMER = "nodes"
NAMESPACES_INFORMER = "namespaces"
CRDS_INFORMER = "crds"


def managed_object_informer(api_version: str, kind: str, namespace: str, name: str) -> str:
    """Informer of one object of a managed kind watched object by object (by name)."""
    return f"managed/{api_version}/{kind}/{namespace}/{name}"


def crd_established(crd: dict[str, Any]) -> bool:
    """Whether a cached CRD is established (reduced CRDs carry the verdict, whole ones
    their conditions)."""
    if "established" in crd:
        return bool(crd["established"])
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in conditions if isinstance(c, dict))


def config_informer(kind: str) -> str:
    """Informer of an OpenShift config kind (Infrastructure, Scheduler)."""
    return f"config/{kind}"


def managed_informer(api_version: str, kind: str) -> str:
    """Informer of a managed kind (label-selected on the ownership label, or kind-wide).

    Namespaces are watched anyway, all of them, our own kept whole: that watch serves
    the managed Namespace kind too."""
    if (api_version, kind) == (NAMESPACES.api_version, NAMESPACES.kind):
        return NAMESPACES_INFORMER
    return f"managed/{api_version}/{kind}"


class ClusterCache:
    """What the watch caches hold, read-only; implements ``ClusterView``."""

    def __init__(self, *, informers: InformerSet, mapper: RestMapper, namespace: str) -> None:
        self._informers = informers
        self._mapper = mapper
        self._namespace = namespace
        # Bumped whenever a node change can alter hardware/topology detection, so renders
        # summarise the nodes again only then (not on every pass over thousands of nodes).
        self.nodes_generation = 0

    def on_node(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Node informer handler: count the changes detection can see."""
        if event == "MODIFIED" and old is not None and detection_view(old) == detection_view(obj):
            return
        self.nodes_generation += 1

    def _store_get(self, name: str, namespace: str | None, obj_name: str) -> dict[str, Any] | None:
        inf = self._informers.get(name)
        return inf.store.get(namespace, obj_name) if inf is not None else None

    def _hco_informer(self) -> Informer | None:
        """The HyperConverged's own watch, or its kind's when that one is kind-wide."""
        own = self._informers.get(HCO_INFORMER)
        if own is not None:
            return own
        inf = self._informers.get(managed_informer(HCO.api_version, HCO.kind))
        if inf is not None and keeps_whole(inf.select) and selects(
                inf.select, inf.resource, namespace=self._namespace, name=HCO_NAME):
            return inf
        return None

    def hco(self) -> dict[str, Any] | None:
        """The HyperConverged object from the cache."""
        inf = self._hco_informer()
        return inf.store.get(self._namespace, HCO_NAME) if inf is not None else None

    def hco_unknown(self) -> str | None:
        """Why the cache cannot tell yet whether the HyperConverged exists (None: it can)."""
        inf = self._hco_informer()
        if inf is None:
            return ("unknown: the HyperConverged is not watched yet (its kind was not "
                    "discovered; the log says why)")
        if inf.has_synced:
            return None
        why = inf.last_error or "listing"
        return f"unknown: the HyperConverged could not be listed yet ({why})"

    def nodes(self) -> list[dict[str, Any]]:
        """Reduced nodes."""
        inf = self._informers.get(NODES_INFORMER)
        return inf.store.list() if inf is not None else []

    def config_object(self, kind: str) -> dict[str, Any] | None:
        """Infrastructure/Scheduler ``cluster`` when those kinds exist."""
        return self._store_get(config_informer(kind), None, CONFIG_NAME)

    def resource_for(self, api_version: str, kind: str) -> ResourceInfo | None:
        """Served resource of a kind (from discovery)."""
        return self._mapper.lookup(api_version, kind)

    def crd_exists(self, name: str) -> bool:
        """Whether a CRD exists and is established."""
        crd = self._store_get(CRDS_INFORMER, None, name)
        return crd is not None and crd_established(crd)

    def cached_object(
        self, res: ResourceInfo, *, namespace: str, name: str
    ) -> dict[str, Any] | None:
        """Managed object from the cache of its kind (None: not there, or kept there only
        as a summary). The cache is label-selected, or holds every object of a
        few-per-cluster kind, or our objects of a hundreds-per-cluster kind (and our
        namespaces) whole."""
        inf = self._informers.get(managed_informer(res.api_version, res.kind))
        if inf is None:  # a kind watched object by object
            inf = self._informers.get(
                managed_object_informer(res.api_version, res.kind, namespace, name))
        if inf is None or not inf.has_synced:
            return None
        obj = inf.store.get(namespace or None, name)
        return None if obj is None or is_summary(inf.select, obj) else obj

    def namespace_exists(self, name: str) -> bool | None:
        """Whether a namespace exists (None before the cache synced)."""
        inf = self._informers.get(NAMESPACES_INFORMER)
        if inf is None or not inf.has_synced:
            return None
        return inf.store.get(None, name) is not None
