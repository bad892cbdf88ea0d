"""Wiring of the controller: informers -> triggers -> queue -> reconciler.

``autopilot run`` calls :func:`reconcile_factory` with the runtime's shared
parts. This module decides what to watch (the HCO, nodes, namespaces, CRDs,
the OpenShift config objects, and every managed kind through the ownership
label), keeps those watches in step with the CRDs installed at run time, and
exposes the caches to the reconciler as a read-only :class:`ClusterView`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from autopilot import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.cli import UsageError
from autopilot.commands.run import Parts, Wiring
from autopilot.controller import keys
from autopilot.controller.debug import ControllerDebug
from autopilot.controller.lookups import LiveLookups
from autopilot.controller.reconciler import Reconciler
from autopilot.controller.triggers import Triggers, detection_view
from autopilot.golden.catalog import GoldenState, GoldenStateError, load_golden_state
from autopilot.golden.context import reduce_node as reduce_node_for_detection
from autopilot.golden.locate import resolve_golden_state_dir
from autopilot.golden.rbacgen import RbacError, plural_of, rendered_objects
from autopilot.kube.informer import Informer
from autopilot.kube.resources import ResourceInfo

log = structlog.get_logger("autopilot.manager")

HCO_API_VERSION, HCO_KIND = "hco.kubevirt.io/v1", "HyperConverged"
HCO_NAME = "kubevirt-hyperconverged"
CONFIG_KINDS = ("Infrastructure", "Scheduler")
CONFIG_API_VERSION = "config.openshift.io/v1"
NODES = ResourceInfo("", "v1", "Node", "nodes", False)
NAMESPACES = ResourceInfo("", "v1", "Namespace", "namespaces", False)
CRDS = ResourceInfo(
    "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False
)
SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"


def _reduce_crd(crd: dict[str, Any]) -> dict[str, Any]:
    """Keep what kind tracking needs of a CRD (schemas are large and read on demand)."""
    spec = crd.get("spec") or {}
    conditions = (crd.get("status") or {}).get("conditions") or []
    return {
        "metadata": {k: v for k, v in (crd.get("metadata") or {}).items()
                     if k in ("name", "resourceVersion", "uid")},
        "spec": {"group": spec.get("group"), "names": spec.get("names"),
                 "versions": [{"name": v.get("name"), "served": v.get("served")}
                              for v in spec.get("versions") or []]},
        "established": any(c.get("type") == "Established" and c.get("status") == "True"
                           for c in conditions),
    }


def _reduce_namespace(ns: dict[str, Any]) -> dict[str, Any]:
    meta = ns.get("metadata") or {}
    return {"metadata": {"name": meta.get("name"), "resourceVersion": meta.get("resourceVersion")}}


class Manager:
    """Owns the watches and implements :class:`~autopilot.controller.ports.ClusterView`."""

    def __init__(self, parts: Parts, golden: GoldenState) -> None:
        self.parts = parts
        self.golden = golden
        self.namespace = parts.config.namespace
        self.wanted: set[tuple[str, str]] = set()
        self._kinds_dirty = asyncio.Event()
        self.reconciler: Reconciler | None = None
        self.triggers: Triggers | None = None
        # Bumped whenever a node change can alter hardware/topology detection, so the
        # reconciler re-detects only then (not on every asset pass over thousands of nodes).
        self.nodes_generation = 0

    # -- ClusterView -----------------------------------------------------------------------

    def _store_get(self, name: str, namespace: str | None, obj_name: str) -> dict[str, Any] | None:
        inf = self.parts.informers.get(name)
        return inf.store.get(namespace, obj_name) if inf is not None else None

    def hco(self) -> dict[str, Any] | None:
        """The HyperConverged object from the cache."""
        return self._store_get("hco", self.namespace, HCO_NAME)

    def nodes(self) -> list[dict[str, Any]]:
        """Reduced nodes."""
        inf = self.parts.informers.get("nodes")
        return inf.store.list() if inf is not None else []

    def config_object(self, kind: str) -> dict[str, Any] | None:
        """Infrastructure/Scheduler ``cluster`` when those kinds exist."""
        return self._store_get(f"config/{kind}", None, "cluster")

    def resource_for(self, api_version: str, kind: str) -> ResourceInfo | None:
        """Served resource of a kind (from discovery)."""
        return self.parts.mapper.lookup(api_version, kind)

    def crd_exists(self, name: str) -> bool:
        """Whether a CRD exists and is established."""
        crd = self._store_get("crds", None, name)
        return bool(crd and crd.get("established"))

    def cached_object(
        self, res: ResourceInfo, *, namespace: str, name: str
    ) -> tuple[bool, dict[str, Any] | None]:
        """Managed object from the label-selected cache of its kind."""
        inf = self.parts.informers.get(self._managed_name(res.api_version, res.kind))
        if inf is None or not inf.has_synced:
            return False, None
        return True, inf.store.get(namespace or None, name)

    def namespace_exists(self, name: str) -> bool | None:
        """Whether a namespace exists (None before the cache synced)."""
        inf = self.parts.informers.get("namespaces")
        if inf is None or not inf.has_synced:
            return None
        return inf.store.get(None, name) is not None

    # -- watches -----------------------------------------------------------------------------

    @staticmethod
    def _managed_name(api_version: str, kind: str) -> str:
        return f"managed/{api_version}/{kind}"

    def _informer(self, res: ResourceInfo, **kwargs: Any) -> Informer:
        return Informer(self.parts.client, res, metrics=self.parts.metrics, **kwargs)

    def add_static_informers(self, triggers: Triggers) -> None:
        """Watches that exist whatever is installed: CRDs, nodes, namespaces."""
        informers = self.parts.informers
        crds = informers.add("crds", self._informer(CRDS, transform=_reduce_crd))
        crds.add_handler(self._on_crd)
        # Cache only what detection reads: heartbeats and unrelated label/annotation
        # churn then compare equal and fan out to nothing.
        nodes = informers.add(
            "nodes", self._informer(NODES, transform=reduce_node_for_detection)
        )
        nodes.add_handler(self._on_node)
        nodes.add_handler(triggers.on_node)
        nss = informers.add("namespaces", self._informer(NAMESPACES, transform=_reduce_namespace))
        nss.add_handler(triggers.on_namespace)

    def _on_node(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event == "MODIFIED" and old is not None and detection_view(old) == detection_view(obj):
            return
        self.nodes_generation += 1

    def _on_crd(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event == "MODIFIED" and old is not None and old.get("established") == obj.get(
            "established"
        ) and old.get("spec") == obj.get("spec"):
            return
        self.parts.mapper.invalidate()
        self._kinds_dirty.set()
        if self.reconciler is not None:
            self.reconciler.lookups.clear()
        spec = obj.get("spec") or {}
        kind = str((spec.get("names") or {}).get("kind", ""))
        relevant = any(k == kind and av.split("/")[0] == spec.get("group")
                       for av, k in self.wanted | {(HCO_API_VERSION, HCO_KIND)})
        if relevant and event == "ADDED" and obj.get("established"):
            self._platform_event("CRDDiscovered", f"{kind}.{spec.get('group')} is now installed")

    def _platform_event(self, reason: str, note: str) -> None:
        hco = self.hco()
        if hco is not None:
            self.parts.events.emit(hco, type="Normal", reason=reason, note=note, action="Watch")

    async def sync_kind_informers(self) -> None:
        """Start watches for kinds that became served, stop those whose CRD went away."""
        mapper, informers, triggers = self.parts.mapper, self.parts.informers, self.triggers
        assert triggers is not None
        await mapper.resolve(HCO_API_VERSION, HCO_KIND)
        wanted: dict[str, tuple[ResourceInfo | None, dict[str, Any]]] = {}
        for api_version, kind in sorted(self.wanted):
            wanted[self._managed_name(api_version, kind)] = (
                mapper.lookup(api_version, kind),
                # managedFields stay: they tell an owner flip, and who made it, from drift
                # of our own making (autopilot.engine.flips).
                {"label_selector": SELECTOR, "handler": triggers.on_managed},
            )
        wanted["hco"] = (
            mapper.lookup(HCO_API_VERSION, HCO_KIND),
            {"namespace": self.namespace, "field_selector": f"metadata.name={HCO_NAME}",
             "handler": triggers.on_hco},
        )
        for kind in CONFIG_KINDS:
            wanted[f"config/{kind}"] = (
                mapper.lookup(CONFIG_API_VERSION, kind),
                {"field_selector": "metadata.name=cluster", "handler": triggers.on_config},
            )
        changed = False
        for name, (res, opts) in wanted.items():
            current = informers.get(name)
            if res is None and current is not None:
                await informers.remove(name)
                log.info("kind no longer served; stopped watching", informer=name)
                changed = True
            elif res is not None and (current is None or current.resource != res):
                if current is not None:
                    await informers.remove(name)
                handler = opts.pop("handler")
                inf = informers.add(name, self._informer(res, name=name, **opts))
                inf.add_handler(handler)
                log.info("watching", informer=name)
                changed = True
        if changed and self.triggers is not None:
            self.triggers.everything(tombstones=False)

    async def kind_sync_loop(self) -> None:
        """Keep kind watches in step with CRD changes (debounced)."""
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


async def reconcile_factory(parts: Parts) -> Wiring:
    """Build the controller logic for ``autopilot run``."""
    try:
        golden = load_golden_state(resolve_golden_state_dir(parts.config.golden_state))
        managed_kinds = {
            (str(o["apiVersion"]), str(o["kind"])) for _, o in rendered_objects(golden)[0]
        }
    except (GoldenStateError, RbacError) as exc:
        raise UsageError(f"invalid golden state: {exc}") from None
    manager = Manager(parts, golden)
    manager.wanted = managed_kinds
    loop = asyncio.get_running_loop()
    lookups = LiveLookups(client=parts.client, resource_for=manager.resource_for, loop=loop)
    reconciler = Reconciler(
        golden=golden,
        client=parts.client,
        view=manager,
        events=parts.events,
        metrics=parts.metrics,
        lookups=lookups,
        namespace=parts.config.namespace,
        edit_war_window=parts.config.edit_war_window,
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
        extra={"manager": manager, "reconciler": reconciler, "keys": keys},
    )
