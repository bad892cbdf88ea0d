"""From watch events to queue keys (contract §5).

- a managed object maps to the one asset that renders it: a change enqueues that
  object's key (a pass over it against the asset's last render), a deletion or
  a user's request to look again (``force-reconcile``, the pause annotation
  removed) the asset's (a full pass, rendering again);
- HCO changes (metadata or spec, not status) fan out to every asset, the HCO
  asset first; a new ``force-reconcile`` value also drops every cached
  verdict and sweeps tombstones;
- node changes that alter what detection reads fan out to every asset;
- a namespace appearing re-evaluates the assets that target it;
- the periodic resync enqueues everything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from autopilot.controller import keys
from autopilot.controller.ports import AssetIndex, ForcePort
from autopilot.engine import overrides
from autopilot.golden.catalog import GoldenState
from autopilot.kube.resources import ObjectRef

log = structlog.get_logger("autopilot.triggers")

EventHandler = Callable[[str, dict[str, Any], dict[str, Any] | None], None]


class Triggers:
    """Turns informer events into work-queue keys."""

    def __init__(
        self,
        *,
        golden: GoldenState,
        book: AssetIndex,
        force: ForcePort,
        enqueue: Callable[[str], None],
        forget: Callable[[str], None],
    ) -> None:
        self._golden = golden
        self._book = book
        self._force = force
        self._enqueue = enqueue
        self._forget = forget

    def everything(self, *, tombstones: bool = True) -> None:
        """Enqueue every asset (in apply order, the HCO asset first) and the sweep."""
        for asset in self._golden.assets:
            self._enqueue(keys.asset_key(asset.name))
        if tombstones:
            self._enqueue(keys.TOMBSTONES)

    def on_hco(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """HCO added/changed/deleted."""
        if event == "MODIFIED" and old is not None and not _meta_or_spec_changed(old, obj):
            return
        forced = overrides.annotation(obj, overrides.FORCE_RECONCILE)
        if old is not None and forced is not None and forced != overrides.annotation(
            old, overrides.FORCE_RECONCILE
        ):
            log.info("force-reconcile requested on the HyperConverged", value=forced)
            self._force.invalidate_all()
            for asset in self._golden.assets:
                self._forget(keys.asset_key(asset.name))
        self.everything(tombstones=True)

    def on_node(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Node changes that alter hardware/topology detection re-evaluate every asset."""
        if event == "MODIFIED" and old is not None and detection_view(old) == detection_view(obj):
            return
        self.everything(tombstones=False)

    def on_namespace(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """A namespace appearing unblocks the assets that target it."""
        if event != "ADDED":
            return
        name = str((obj.get("metadata") or {}).get("name", ""))
        for asset in self._book.assets_in_namespace(name):
            self._enqueue(keys.asset_key(asset))

    def on_config(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Infrastructure/Scheduler changes alter the topology context."""
        if event == "MODIFIED" and old is not None and old.get("spec") == obj.get("spec") and (
            old.get("status") == obj.get("status")
        ):
            return
        self.everything(tombstones=False)

    def on_managed(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """A labelled object changed: reconcile it (or the asset that renders it)."""
        ref = ObjectRef.of(obj)
        group = ref.api_version.rpartition("/")[0]
        asset = self._book.asset_for(
            kind=ref.kind, group=group, name=ref.name, namespace=ref.namespace
        )
        if asset is None:
            return
        key = keys.asset_key(asset)
        whole = event == "DELETED"
        forced = overrides.annotation(obj, overrides.FORCE_RECONCILE)
        if forced is not None and forced != overrides.annotation(old, overrides.FORCE_RECONCILE):
            log.info(
                "force-reconcile requested",
                kind=ref.kind, name=ref.name, namespace=ref.namespace, asset=asset, value=forced,
            )
            self._force.force(ref)
            self._forget(key)
            whole = True
        if old is not None and overrides.is_paused(old) and not overrides.is_paused(obj):
            log.info(
                "pause annotation removed; resuming",
                kind=ref.kind, name=ref.name, namespace=ref.namespace, asset=asset,
            )
            self._force.pause_removed(ref)
            self._forget(key)
            whole = True
        if not whole:
            key = keys.object_key(asset=asset, group=group, kind=ref.kind,
                                  namespace=ref.namespace, name=ref.name)
        self._enqueue(key)


def _meta_or_spec_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (
        om.get("annotations") != nm.get("annotations")
        or om.get("labels") != nm.get("labels")
        or old.get("spec") != new.get("spec")
        or nm.get("deletionTimestamp") is not None
    )


def detection_view(node: dict[str, Any]) -> tuple[Any, ...]:
    """The parts of a node hardware/topology detection reads."""
    meta = node.get("metadata") or {}
    status = node.get("status") or {}
    return (
        meta.get("labels"),
        meta.get("annotations"),
        sorted((status.get("capacity") or {}).keys()),
        (node.get("spec") or {}).get("taints"),
    )
