"""The Lease record leader election reads and writes: what we saw of it, what we write.

Kept apart from the election loop (:mod:`autopilot.runtime.leader`): this module
knows the shape of a coordination.k8s.io/v1 Lease and when its holder's claim has
run out, the loop knows when to try, step down and release.

"Expired" is judged by when *we* last saw the record change, not by the holder's
clock, so clock skew between nodes does not matter (as client-go does it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autopilot.kube.client import micro_time
from autopilot.kube.resources import ResourceInfo

LEASE_NAME = "virt-platform-autopilot.kubevirt.io"
LEASES = ResourceInfo("coordination.k8s.io", "v1", "Lease", "leases", True)


@dataclass
class LeaseRecord:
    """One replica's view of the Lease, and the bodies it writes to claim or give it up."""

    namespace: str
    name: str
    identity: str
    lease_duration: float
    clock: Callable[[], float]
    # Annotations the holder writes on the Lease (what standbys need to know of it).
    publish: dict[str, str] = field(default_factory=dict)
    lease: dict[str, Any] | None = None
    _observed_spec: dict[str, Any] | None = None
    _observed_at: float = 0.0

    @property
    def path(self) -> str:
        """The Lease's own API path."""
        return LEASES.path(namespace=self.namespace, name=self.name)

    @property
    def collection(self) -> str:
        """Where a new Lease is created."""
        return LEASES.path(namespace=self.namespace)

    def observe(self, lease: dict[str, Any]) -> None:
        """Remember the Lease as read or written; a changed spec restarts the expiry clock."""
        spec = lease.get("spec") or {}
        if spec != self._observed_spec:
            self._observed_spec = dict(spec)
            self._observed_at = self.clock()
        self.lease = lease

    def held_by_another(self, lease: dict[str, Any]) -> bool:
        """Whether someone else holds ``lease`` (just observed) and their claim still runs."""
        spec = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        if not holder or holder == self.identity:
            return False
        return not self._expired(spec)

    def _expired(self, spec: dict[str, Any]) -> bool:
        duration = float(spec.get("leaseDurationSeconds") or 0)
        return self._observed_at + duration < self.clock()

    def new_lease(self) -> dict[str, Any]:
        """The body that creates the Lease with us as its first holder."""
        now = micro_time()
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": self._spec(now, acquire=now, transitions=0),
        }
        self._stamp(body)
        return body

    def claim(self, lease: dict[str, Any]) -> dict[str, Any]:
        """``lease`` renewed by us, or taken over (a new acquire time, one more transition)."""
        now = micro_time()
        spec = lease.get("spec") or {}
        transitions = int(spec.get("leaseTransitions") or 0)
        if str(spec.get("holderIdentity") or "") == self.identity:
            acquire = str(spec.get("acquireTime") or now)
        else:
            acquire = now
            transitions += 1
        lease["spec"] = self._spec(now, acquire=acquire, transitions=transitions)
        self._stamp(lease)
        return lease

    def released(self, lease: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """``lease`` (by default the last observed) with no holder and a 1 s duration
        (client-go's ReleaseOnCancel), at its resourceVersion; None when not ours."""
        lease = self.lease if lease is None else lease
        if lease is None:
            return None
        spec = dict(lease.get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            return None
        now = micro_time()
        return {**lease, "spec": {
            "leaseDurationSeconds": 1,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": int(spec.get("leaseTransitions") or 0),
        }}

    def holder_annotations(self) -> tuple[str, dict[str, str]] | None:
        """The holder's identity and the Lease's annotations, as last observed; None when
        no one holds an unexpired Lease."""
        if self.lease is None:
            return None
        spec = self.lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        if not holder or self._expired(spec):
            return None
        annotations = (self.lease.get("metadata") or {}).get("annotations") or {}
        return holder, {str(k): str(v) for k, v in annotations.items()}

    def _spec(self, now: str, *, acquire: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.lease_duration)),
            "acquireTime": acquire,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    def _stamp(self, lease: dict[str, Any]) -> None:
        if self.publish:
            meta = lease.setdefault("metadata", {})
            meta["annotations"] = {**(meta.get("annotations") or {}), **self.publish}
