"""What the next pass must look at again, shared by the triggers and the object passes.

A cached drift verdict lets a pass skip the server-side dry run while neither the
desired nor the live object changed; a baseline (:mod:`autopilot.controller.baselines`)
lets a pass over one object judge a new version of it without a request. A user's
request to look again (the ``force-reconcile`` annotation on an object or on the
HyperConverged, or the removal of the pause annotation) drops verdicts and
baselines and marks objects for a real check. The triggers write this memory
through :class:`~autopilot.controller.ports.ForcePort`; the object pass reads it;
nothing else holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from autopilot import FIELD_MANAGER
from autopilot.controller.baselines import Baselines, baseline_of
from autopilot.engine.drift import VerdictCache
from autopilot.kube.resources import ObjectRef


class Resumable(Protocol):
    """The anti-thrashing memory of an object, reset when the user resumes it."""

    def reset(self, ref: ObjectRef) -> None:
        """Full bucket and a fresh flip window for ``ref``."""


@dataclass
class Rechecks:
    """The verdict cache, the baselines and the set of objects whose next pass is forced."""

    resumable: Resumable
    verdicts: VerdictCache = field(default_factory=VerdictCache)
    baselines: Baselines = field(default_factory=Baselines)
    _forced: set[ObjectRef] = field(default_factory=set)

    def force(self, ref: ObjectRef) -> None:
        """Make the next pass over ``ref`` do a real server-side check."""
        self.verdicts.invalidate(ref)
        self.baselines.drop(ref)
        self._forced.add(ref)

    def invalidate_all(self) -> None:
        """Drop every cached verdict (force-reconcile on the HyperConverged)."""
        self.verdicts.clear()
        self.baselines.clear()

    def pause_removed(self, ref: ObjectRef) -> None:
        """The user removed the pause annotation: fresh bucket and a fresh flip window."""
        self.resumable.reset(ref)
        self.verdicts.invalidate(ref)
        self.baselines.drop(ref)

    def in_line(self, ref: ObjectRef, *, fingerprint: str, obj: dict[str, Any],
                wanted_from: dict[str, Any]) -> None:
        """``obj`` (an apply's answer, or a live object a dry run found in sync) is in line
        with the desired object of ``fingerprint``: keep the verdict and the baseline."""
        rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
        self.verdicts.put(ref, fingerprint, rv)
        self.baselines.put(ref, baseline_of(fingerprint=fingerprint, obj=obj,
                                            wanted_from=wanted_from, manager=FIELD_MANAGER))

    def take_forced(self, ref: ObjectRef) -> bool:
        """Whether this pass over ``ref`` is forced (asking consumes the request)."""
        forced = ref in self._forced
        self._forced.discard(ref)
        return forced

    def forget(self, ref: ObjectRef) -> None:
        """The object is no longer managed."""
        self.verdicts.invalidate(ref)
        self.baselines.drop(ref)
        self._forced.discard(ref)
