"""Tombstones: objects the Golden State used to ship and now deletes (contract §7).

Deletion is guarded by the ownership label on the *live* object: we only ever
delete what we created (objects of the reference operator carry the same label, so
they are guarded alike), and never an object handed to the administrator with
``mode: unmanaged``. A tombstone with ``after`` also waits until its replacement is
applied and compliant (:mod:`autopilot.controller.replacements`).

Status per tombstone: 0 deleted or absent; -1 error; -2 skipped (the live object lacks
our label, is unmanaged, or one of our assets renders it); -3 waiting for the
replacement (alerts after 30 minutes: the replacement does not come into line); 1 kept
on purpose, the replacement is not managed on this cluster (not allowlisted, switched
off, excluded or not installed).

Whether a tombstoned object exists, and what it carries, comes from its watch
(:mod:`autopilot.controller.tombstone_watch`): a sweep with nothing to delete makes
no request. Only a tombstone whose watch has not listed yet is read with a GET.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from autopilot import MANAGED_BY_LABEL
from autopilot.controller.ports import ClusterView, EventSink
from autopilot.controller.replacements import Verdict
from autopilot.controller.summaries import is_ours
from autopilot.controller.tombstone_watch import Seen
from autopilot.engine.annotations import MODE, is_unmanaged
from autopilot.golden.catalog import Tombstone
from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.resources import ResourceInfo
from autopilot.observability.metrics import (
    TOMBSTONE_DELETED,
    TOMBSTONE_ERROR,
    TOMBSTONE_KEPT,
    TOMBSTONE_SKIPPED,
    TOMBSTONE_WAITING,
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
        check: Callable[[Tombstone], Verdict] | None = None,
        seen: Callable[[Tombstone], Seen] | None = None,
    ) -> None:
        self._tombstones = list(tombstones)
        self._client = client
        self._view = view
        self._events = events
        self._metrics = metrics
        self._check = check
        self._seen = seen
        self._replacing = {t.after.asset for t in self._tombstones if t.after is not None}
        # One sweep at a time: the periodic sweep and the one an asset pass triggers
        # (after_asset) must not interleave their reads and deletes of the same object.
        self._lock = asyncio.Lock()
        self.status: dict[tuple[str, str, str], tuple[int, str]] = {}

    async def sweep(self) -> bool:
        """Process every tombstone once; True when all ended without error."""
        return await self._sweep(self._tombstones)

    async def after_asset(self, asset: str) -> None:
        """An asset came into line: retry the tombstones waiting for it as replacement."""
        if asset not in self._replacing:
            return  # most assets replace nothing: never wait for a running sweep
        # Under the lock, so a sweep running now records its verdicts before we look.
        async with self._lock:
            waiting = [
                t for t in self._tombstones
                if t.after is not None and t.after.asset == asset
                and self.status.get(_key(t), (None, ""))[0] == TOMBSTONE_WAITING
            ]
            if waiting:
                await self._sweep_locked(waiting)

    async def _sweep(self, tombstones: list[Tombstone]) -> bool:
        async with self._lock:
            return await self._sweep_locked(tombstones)

    async def _sweep_locked(self, tombstones: list[Tombstone]) -> bool:
        ok = True
        for tomb in tombstones:
            code, note = await self._one(tomb)
            key = _key(tomb)
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
            code, note = self.status.get(_key(tomb), (None, ""))
            out.append(
                {
                    "apiVersion": tomb.api_version,
                    "kind": tomb.kind,
                    "name": tomb.name,
                    "namespace": tomb.namespace or "",
                    "status": code,
                    "note": note,
                    "after": tomb.after.describe() if tomb.after is not None else None,
                }
            )
        return out

    async def _one(self, tomb: Tombstone) -> tuple[int, str]:
        res = self._view.resource_for(tomb.api_version, tomb.kind)
        if res is None:
            return TOMBSTONE_DELETED, ""  # kind not installed: nothing can exist
        ns = tomb.namespace or None
        try:
            live = await self._live(tomb, res)
        except ApiError as exc:
            return TOMBSTONE_ERROR, f"cannot read: {exc.message}"
        except (OSError, TimeoutError) as exc:
            return TOMBSTONE_ERROR, f"cannot read: {exc}"
        if live is None:
            return TOMBSTONE_DELETED, ""
        if not is_ours(live):
            return TOMBSTONE_SKIPPED, f"not deleted: the live object lacks {MANAGED_BY_LABEL}"
        if is_unmanaged(live):
            # Labelled by us (or the reference operator), then handed to the administrator.
            return (
                TOMBSTONE_SKIPPED,
                f"not deleted: handed to the administrator ({MODE}: unmanaged)",
            )
        if self._check is not None:
            verdict = self._check(tomb)
            if verdict.state != "ready":
                code = {"rendered": TOMBSTONE_SKIPPED, "waiting": TOMBSTONE_WAITING}.get(
                    verdict.state, TOMBSTONE_KEPT
                )
                return code, verdict.note
        try:
            await self._client.delete(res, tomb.name, namespace=ns)
        except ApiError as exc:
            if exc.status == 404:
                return TOMBSTONE_DELETED, ""
            return TOMBSTONE_ERROR, f"delete failed: {exc.message}"
        except (OSError, TimeoutError) as exc:
            return TOMBSTONE_ERROR, f"delete failed: {exc}"
        return TOMBSTONE_DELETED, "deleted obsolete object"

    async def _live(self, tomb: Tombstone, res: ResourceInfo) -> dict[str, Any] | None:
        """The tombstoned object from its watch; a GET only while the watch has not listed."""
        watched = self._seen(tomb) if self._seen is not None else None
        if watched is not None:
            return watched[0]
        return await self._client.get(res, tomb.name, namespace=tomb.namespace or None)

    def _report(self, tomb: Tombstone, code: int, note: str) -> None:
        regarding = {
            "apiVersion": tomb.api_version,
            "kind": tomb.kind,
            "metadata": {"name": tomb.name, "namespace": tomb.namespace or ""},
        }
        blog = log.bind(kind=tomb.kind, name=tomb.name, namespace=tomb.namespace or "")
        if code in (TOMBSTONE_WAITING, TOMBSTONE_KEPT):
            # Not a failure: the next sweep (or the replacement's next pass) decides again.
            blog.info("tombstone waits", reason=note)
            return
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


def _key(tomb: Tombstone) -> tuple[str, str, str]:
    return (tomb.kind, tomb.name, tomb.namespace or "")
