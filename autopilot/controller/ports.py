"""The narrow views the parts of the controller need of each other.

:mod:`autopilot.controller.wiring` builds every part and hands each the ports
it uses: the reconciler and the object pass read the cluster through a
read-only view over the informer caches (and the API client, for the reads
the cache cannot answer and for writes), and record events through a sink; the
triggers see the state book only as the index of what each asset rendered, and
the verdict memory only as a port to force a fresh look; the debug views read
the parts' answers through the last four ports. Keeping them narrow keeps data
flowing one way (watch -> cache -> queue -> reconcile -> apply) and lets tests
exercise each part against a real API server with the real caches, or reason
about it in isolation.
"""

from __future__ import annotations

from typing import Any, Protocol

from autopilot.controller.state import ObjectState
from autopilot.kube.events import EventSink
from autopilot.kube.resources import ObjectRef, ResourceInfo

__all__ = [
    "AssetIndex", "ClusterView", "DependencyStatus", "EditWarHistory", "EventSink", "ForcePort",
    "ObjectHistory", "TombstoneStatus",
]


class ClusterView(Protocol):
    """Read-only view of the watch caches."""

    def hco(self) -> dict[str, Any] | None:
        """The HyperConverged object, if it exists."""

    def hco_unknown(self) -> str | None:
        """Why it is not known yet whether the HyperConverged exists (None: it is known)."""

    def nodes(self) -> list[dict[str, Any]]:
        """Nodes as reduced by the informer transform."""

    @property
    def nodes_generation(self) -> int:
        """Changes whenever a node changes in a way hardware/topology detection reads."""

    def config_object(self, kind: str) -> dict[str, Any] | None:
        """The OpenShift config object ``cluster`` of ``kind`` (Infrastructure, Scheduler)."""

    def resource_for(self, api_version: str, kind: str) -> ResourceInfo | None:
        """The served resource for a kind, or None when the kind is not installed."""

    def crd_exists(self, name: str) -> bool:
        """Whether a CRD of that name exists and is established."""

    def cached_object(
        self, res: ResourceInfo, *, namespace: str, name: str
    ) -> dict[str, Any] | None:
        """The object from the cache of *labelled* objects of its kind.

        None when that cache does not hold it, or no synced cache covers the kind.
        Either way the caller reads the API server: an object without our label
        is not in the cache (adopted on the first pass, or handed over by a user).
        """

    def namespace_exists(self, name: str) -> bool | None:
        """Whether a namespace exists (None when unknown)."""


class AssetIndex(Protocol):
    """Which asset renders an object (the reconciler's state book), for routing events."""

    def asset_for(self, *, kind: str, group: str, name: str, namespace: str) -> str | None:
        """The asset that renders the object with this identity, if any."""

    def assets_in_namespace(self, namespace: str) -> list[str]:
        """Assets that rendered objects into ``namespace``."""


class ForcePort(Protocol):
    """What a user's request to look again asks of the verdict memory (contract §5)."""

    def force(self, ref: ObjectRef) -> None:
        """The next pass over ``ref`` does a real server-side check."""

    def pause_removed(self, ref: ObjectRef) -> None:
        """The pause annotation went away: fresh bucket and counters for ``ref``."""

    def invalidate_all(self) -> None:
        """Drop every cached verdict (force-reconcile on the HCO)."""


class ObjectHistory(Protocol):
    """What the state book remembers of each managed object (debug explain)."""

    def all_objects(self) -> list[ObjectState]:
        """Every known object state."""


class EditWarHistory(Protocol):
    """The edit-war detector's counters of one object (debug explain)."""

    def snapshot(self, ref: ObjectRef) -> dict[str, Any]:
        """Flips and throttles in the current window, and the thresholds."""


class TombstoneStatus(Protocol):
    """The sweeper's last word on each tombstone (``/debug/tombstones``)."""

    def snapshot(self) -> list[dict[str, Any]]:
        """Every tombstone with its status."""


class DependencyStatus(Protocol):
    """Kinds the assets wait for (``/debug/features``)."""

    def missing_dependencies(self) -> dict[str, list[tuple[str, str, str]]]:
        """Asset -> the (group, version, kind) it waits for."""
