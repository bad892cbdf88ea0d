"""Tombstones: objects the Golden State used to ship and now deletes (contract §7).

Deletion is guarded by the ownership label on the *live* object: we only ever
delete what we created. Status per tombstone (the ``tombstone_status`` values):
deleted or absent, error, or skipped because the live object does not carry our
label.
"""

from __future__ import annotations

from typing import Any

import structlog

from autopilot import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.controller.ports import ClusterView, EventSink
from autopilot.golden.catalog import Tombstone
from autopilot.kube.client import ApiError, KubeClient
from autopilot.observability.metrics import (
    TOMBSTONE_DELETED,
    TOMBSTONE_ERROR,
    TOMBSTONE_SKIPPED,
    Metrics,
)

log = structlog.get_logger("autopilot.tombstones")


class TombstoneSweeper:
    """Processes the golden state's tombstones; remembers the last status of each."""

    def __init__(
        self,
        *,
        tombstones: tuple[Tombstone, ...] | list[Tombstone],
        client: KubeClient,
        view: ClusterView,
        events: EventSink,
        metrics: Metrics,
    ) -> None:
        self._tombstones = list(tombstones)
        self._client = client
        self._view = view
        self._events = events
        self._metrics = metrics
        self.status: dict[tuple[str, str, str], tuple[int, str]] = {}

    async def sweep(self) -> bool:
        """Process every tombstone once; True when all ended without error."""
        ok = True
        for tomb in self._tombstones:
            code, note = await self._one(tomb)
            key = (tomb.kind, tomb.name, tomb.namespace or "")
            previous = self.status.get(key)
            self.status[key] = (code, note)
            self._metrics.set_tombstone_status(
                tomb.kind, tomb.name, tomb.namespace or "", status=code
            )
            ok = ok and code != TOMBSTONE_ERROR
            if previous != (code, note) and note:
                self._report(tomb, code, note)
        return ok

    def clear_metrics(self) -> None:
        """Remove every tombstone series (autopilot turned off)."""
        for kind, name, namespace in list(self.status):
            self._metrics.remove_tombstone(kind, name, namespace)
        self.status.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        """Plain view for the debug endpoint."""
        out = []
        for tomb in self._tombstones:
            code, note = self.status.get((tomb.kind, tomb.name, tomb.namespace or ""), (None, ""))
            out.append(
                {
                    "apiVersion": tomb.api_version,
                    "kind": tomb.kind,
                    "name": tomb.name,
                    "namespace": tomb.namespace or "",
                    "status": code,
                    "note": note,
                }
            )
        return out

    async def _one(self, tomb: Tombstone) -> tuple[int, str]:
        res = self._view.resource_for(tomb.api_version, tomb.kind)
        if res is None:
            return TOMBSTONE_DELETED, ""  # kind not installed: nothing can exist
        ns = tomb.namespace or None
        try:
            live = await self._client.get(res, tomb.name, namespace=ns)
        except ApiError as exc:
            return TOMBSTONE_ERROR, f"cannot read: {exc.message}"
        except (OSError, TimeoutError) as exc:
            return TOMBSTONE_ERROR, f"cannot read: {exc}"
        if live is None:
            return TOMBSTONE_DELETED, ""
        labels = (live.get("metadata") or {}).get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
            return TOMBSTONE_SKIPPED, f"not deleted: the live object lacks {MANAGED_BY_LABEL}"
        try:
            await self._client.delete(res, tomb.name, namespace=ns)
        except ApiError as exc:
            if exc.status == 404:
                return TOMBSTONE_DELETED, ""
            return TOMBSTONE_ERROR, f"delete failed: {exc.message}"
        except (OSError, TimeoutError) as exc:
            return TOMBSTONE_ERROR, f"delete failed: {exc}"
        return TOMBSTONE_DELETED, "deleted obsolete object"

    def _report(self, tomb: Tombstone, code: int, note: str) -> None:
        regarding = {
            "apiVersion": tomb.api_version,
            "kind": tomb.kind,
            "metadata": {"name": tomb.name, "namespace": tomb.namespace or ""},
        }
        blog = log.bind(kind=tomb.kind, name=tomb.name, namespace=tomb.namespace or "")
        if code == TOMBSTONE_DELETED:
            blog.info("tombstone deleted")
            self._events.emit(
                regarding, type="Normal", reason="TombstoneDeleted", note=note, action="Delete"
            )
        elif code == TOMBSTONE_SKIPPED:
            blog.warning("tombstone skipped", reason=note)
            self._events.emit(
                regarding, type="Warning", reason="TombstoneSkipped", note=note, action="Delete"
            )
        else:
            blog.error("tombstone failed", error=note)
            self._events.emit(
                regarding, type="Warning", reason="TombstoneFailed", note=note, action="Delete"
            )
