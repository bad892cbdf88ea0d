"""The narrow views the parts of the controller need of each other.

The reconciler sees the cluster only through these protocols: a read-only
view over the informer caches, an event sink and the API client. The
triggers see the reconciler only as the index of what each asset rendered and
a port to force a fresh look. Keeping them narrow keeps data flowing one way
(watch -> cache -> queue -> reconcile -> apply) and lets tests exercise each
part against a real API server with the real caches, or reason about it in
isolation.
"""

from __future__ import annotations

from typing import Any, Protocol

from autopilot.kube.resources import ObjectRef, ResourceInfo


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
    ) -> tuple[bool, dict[str, Any] | None]:
        """(authoritative, object) from the managed-object cache.

        ``authoritative`` is False when no synced cache covers the kind; the
        caller then reads from the API server.
        """

    def namespace_exists(self, name: str) -> bool | None:
        """Whether a namespace exists (None when unknown)."""


class EventSink(Protocol):
    """Records Kubernetes events without blocking the caller."""

    def emit(
        self, regarding: dict[str, Any], *, type: str, reason: str, note: str, action: str
    ) -> None:
        """Queue one event about ``regarding`` (an object or a minimal reference)."""


class AssetIndex(Protocol):
    """Which asset renders an object (the reconciler's state book), for routing events."""

    def asset_for(self, *, kind: str, group: str, name: str, namespace: str) -> str | None:
        """The asset that renders the object with this identity, if any."""

    def assets_in_namespace(self, namespace: str) -> list[str]:
        """Assets that rendered objects into ``namespace``."""


class ForcePort(Protocol):
    """What a user's request to look again asks of the reconciler (annotations, contract §5)."""

    def force(self, ref: ObjectRef) -> None:
        """The next pass over ``ref`` does a real server-side check."""

    def pause_removed(self, ref: ObjectRef) -> None:
        """The pause annotation went away: fresh bucket and counters for ``ref``."""

    def invalidate_all(self) -> None:
        """Drop every cached verdict (force-reconcile on the HCO)."""
