"""Tombstoned objects seen through watches, so a sweep asks the cache, not the API server.

One informer per tombstone, selected by ``metadata.name`` (and the namespace): a
tombstone names one object, which may or may not carry our label (a migration
tombstone names the reference operator's object; an unlabelled one is skipped, not
deleted, and the sweep must tell it from an absent one). The cache keeps only what
the sweep reads: the name, the ownership label and the ``mode`` annotation. Any
change of a tombstoned object enqueues a sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from autopilot import MANAGED_BY_LABEL
from autopilot.engine.annotations import MODE
from autopilot.golden.tombstones import Tombstone
from autopilot.kube.informer import Selection
from autopilot.kube.resources import ResourceInfo
from autopilot.runtime.informer_set import InformerSet

EventHandler = Callable[[str, dict[str, Any], dict[str, Any] | None], None]
# The sweep's view of one tombstoned object: None when no synced watch covers it (read
# the API server), else (the reduced object, or None when it does not exist).
Seen = tuple[dict[str, Any] | None] | None

_KEPT_META = ("name", "namespace", "resourceVersion", "uid", "deletionTimestamp")


def tombstone_informer(tomb: Tombstone) -> str:
    """Name of the informer watching one tombstoned object."""
    return f"tombstone/{tomb.api_version}/{tomb.kind}/{tomb.namespace}/{tomb.name}"


def reduce_tombstoned(obj: dict[str, Any]) -> dict[str, Any]:
    """Keep what the sweep decides on: identity, the ownership label, the mode annotation."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    kept: dict[str, Any] = {k: meta[k] for k in _KEPT_META if k in meta}
    kept["labels"] = {k: v for k, v in labels.items() if k == MANAGED_BY_LABEL}
    kept["annotations"] = {k: v for k, v in annotations.items() if k == MODE}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": kept}


def wanted_tombstone_watches(
    tombstones: Iterable[Tombstone],
    *,
    resource_for: Callable[[str, str], ResourceInfo | None],
    handler: EventHandler,
) -> dict[str, tuple[ResourceInfo | None, Selection, EventHandler]]:
    """The informers the tombstones need (resource None: the kind is not served now)."""
    wanted: dict[str, tuple[ResourceInfo | None, Selection, EventHandler]] = {}
    for tomb in tombstones:
        res = resource_for(tomb.api_version, tomb.kind)
        namespace = (tomb.namespace or None) if res is not None and res.namespaced else None
        wanted[tombstone_informer(tomb)] = (
            res,
            Selection(namespace=namespace, field_selector=f"metadata.name={tomb.name}",
                      transform=reduce_tombstoned),
            handler,
        )
    return wanted


@dataclass(frozen=True, slots=True)
class TombstoneWatch:
    """Answers the sweep from the tombstones' informers."""

    informers: InformerSet

    def seen(self, tomb: Tombstone) -> Seen:
        """The object as the watch shows it, or None when no synced watch covers it."""
        inf = self.informers.get(tombstone_informer(tomb))
        if inf is None or not inf.has_synced:
            return None
        namespace = tomb.namespace if inf.resource.namespaced else ""
        return (inf.store.get(namespace or None, tomb.name),)
