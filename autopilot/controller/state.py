"""What the reconciler remembers between passes, per asset and per object.

The metrics are the public truth, but several promises depend on history:
events "once per transition", series that must disappear when an object stops
being managed, and the explain view (last error, last diff). This module keeps
that history in one place so the reconciler itself stays a straight pipeline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from autopilot.kube.resources import ObjectRef


@dataclass
class ObjectState:
    """Everything remembered about one managed object."""

    ref: ObjectRef
    asset: str
    compliance: int | None = None
    paused: bool = False
    unmanaged: bool = False
    customizations: frozenset[str] = frozenset()
    last_error: str = ""
    last_error_at: float = 0.0
    last_diff: tuple[str, ...] = ()
    last_applied_at: float = 0.0
    last_checked_at: float = 0.0
    # Annotation values already reported, so a bad value is reported once, not every pass.
    reported: dict[str, str] = field(default_factory=dict)

    def note_error(self, message: str) -> None:
        """Remember the latest failure for explain."""
        self.last_error = message
        self.last_error_at = time.time()

    def report_once(self, topic: str, value: str) -> bool:
        """True the first time ``topic`` is seen with ``value`` (a transition)."""
        if self.reported.get(topic) == value:
            return False
        self.reported[topic] = value
        return True

    def clear_report(self, topic: str) -> None:
        """Forget a reported value so the next occurrence is reported again."""
        self.reported.pop(topic, None)

    def as_dict(self) -> dict[str, Any]:
        """Plain view for the debug endpoints and ``autopilot explain``."""
        return {
            "kind": self.ref.kind,
            "name": self.ref.name,
            "namespace": self.ref.namespace,
            "asset": self.asset,
            "compliance": self.compliance,
            "paused": self.paused,
            "unmanaged": self.unmanaged,
            "customizations": sorted(self.customizations),
            "lastError": self.last_error,
            "lastDiff": list(self.last_diff),
        }


class StateBook:
    """Per-object and per-asset memory of the reconciler."""

    def __init__(self) -> None:
        self._objects: dict[ObjectRef, ObjectState] = {}
        self._asset_objects: dict[str, set[ObjectRef]] = {}
        self._by_identity: dict[tuple[str, str, str, str], str] = {}
        self._asset_namespaces: dict[str, set[str]] = {}

    def object(self, ref: ObjectRef, *, asset: str) -> ObjectState:
        """The state of ``ref``, created on first use."""
        st = self._objects.get(ref)
        if st is None:
            st = ObjectState(ref=ref, asset=asset)
            self._objects[ref] = st
        st.asset = asset
        return st

    def find(self, ref: ObjectRef) -> ObjectState | None:
        """State of ``ref`` if it was ever seen."""
        return self._objects.get(ref)

    def set_asset_objects(self, asset: str, refs: list[ObjectRef]) -> set[ObjectRef]:
        """Record what an asset rendered this pass; return refs it no longer renders."""
        previous = self._asset_objects.get(asset, set())
        current = set(refs)
        self._asset_objects[asset] = current
        for ref in current:
            self._by_identity[_identity(ref)] = asset
        self._asset_namespaces[asset] = {r.namespace for r in current if r.namespace}
        gone = previous - current
        for ref in gone:
            if self._by_identity.get(_identity(ref)) == asset:
                del self._by_identity[_identity(ref)]
        return gone

    def claim(self, ref: ObjectRef, asset: str) -> None:
        """Map ``ref`` to ``asset`` now, before the pass over it reads the object.

        Watch events that arrive while the pass runs then find the asset and
        requeue it; otherwise a change made during the first pass after start-up
        (or after the asset was re-enabled) would wait for the next resync.
        """
        self._by_identity[_identity(ref)] = asset

    def asset_objects(self, asset: str) -> set[ObjectRef]:
        """Objects the asset rendered on its last pass."""
        return set(self._asset_objects.get(asset, set()))

    def asset_for(self, *, kind: str, group: str, name: str, namespace: str) -> str | None:
        """Which asset renders the object with this identity, if any."""
        return self._by_identity.get((group, kind, namespace, name))

    def assets_in_namespace(self, namespace: str) -> list[str]:
        """Assets that rendered objects into ``namespace``."""
        return sorted(a for a, nss in self._asset_namespaces.items() if namespace in nss)

    def drop(self, ref: ObjectRef) -> None:
        """Forget an object completely."""
        self._objects.pop(ref, None)

    def all_objects(self) -> list[ObjectState]:
        """Every known object state, sorted for stable output."""
        return sorted(
            self._objects.values(), key=lambda s: (s.ref.kind, s.ref.namespace, s.ref.name)
        )


def _identity(ref: ObjectRef) -> tuple[str, str, str, str]:
    group = ref.api_version.rpartition("/")[0]
    return (group, ref.kind, ref.namespace, ref.name)
