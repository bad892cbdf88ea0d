"""What the controller records in its metrics (contract §8), through typed methods.

The families themselves (names, help, labels, buckets, the registry) are
:mod:`autopilot.observability.families`; the text the runbooks grep is
:mod:`autopilot.observability.exposition`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from autopilot.observability.exposition import render_text
from autopilot.observability.families import MetricFamilies

# The ``type`` label values of customization_info; the engine names what it finds with them.
CUSTOMIZATION_PATCH = "patch"
CUSTOMIZATION_IGNORE = "ignore"
CUSTOMIZATION_UNMANAGED = "unmanaged"
CUSTOMIZATION_TYPES = (CUSTOMIZATION_PATCH, CUSTOMIZATION_IGNORE, CUSTOMIZATION_UNMANAGED)

# Tombstone outcomes (contract §7).
TOMBSTONE_DELETED = 0
TOMBSTONE_ERROR = -1
TOMBSTONE_SKIPPED = -2
# The old object waits until its replacement is applied and compliant (tombstone `after`).
TOMBSTONE_WAITING = -3
# Kept on purpose: its replacement is not managed on this cluster.
TOMBSTONE_KEPT = 1
TOMBSTONE_STATUSES = (
    TOMBSTONE_DELETED, TOMBSTONE_ERROR, TOMBSTONE_SKIPPED, TOMBSTONE_WAITING, TOMBSTONE_KEPT
)


class Metrics(MetricFamilies):
    """All metrics of one controller: its families and the typed ways to record them."""

    # -- per-object helpers -------------------------------------------------

    def set_compliance(self, kind: str, name: str, namespace: str, *, ok: bool) -> None:
        """Record whether the object is in the Golden State (1) or not (0)."""
        self.compliance_status.labels(kind, name, namespace).set(1 if ok else 0)

    def remove_compliance(self, kind: str, name: str, namespace: str) -> None:
        """Drop the compliance series (object excluded, unmanaged or no longer rendered)."""
        _drop(self.compliance_status, kind, name, namespace)

    def set_paused(self, kind: str, name: str, namespace: str, *, paused: bool) -> None:
        """Paused objects show 1; an object that is not paused has no series."""
        if paused:
            self.paused_resources.labels(kind, name, namespace).set(1)
        else:
            _drop(self.paused_resources, kind, name, namespace)

    def record_thrashing(self, kind: str, name: str, namespace: str) -> None:
        """Count one edit-war episode on the object."""
        self.thrashing_total.labels(kind, name, namespace).inc()

    def set_customizations(
        self, kind: str, name: str, namespace: str, *, types: Iterable[str]
    ) -> None:
        """Show exactly the customization types in ``types``; the others are removed."""
        active = set(types)
        unknown = active - set(CUSTOMIZATION_TYPES)
        if unknown:
            raise ValueError(f"unknown customization type(s): {', '.join(sorted(unknown))}")
        for kind_of in CUSTOMIZATION_TYPES:
            if kind_of in active:
                self.customization_info.labels(kind, name, namespace, kind_of).set(1)
            else:
                _drop(self.customization_info, kind, name, namespace, kind_of)

    def set_missing_dependency(
        self, group: str, version: str, kind: str, *, missing: bool
    ) -> None:
        """1 while an active asset's CRD is missing; the series goes away otherwise."""
        if missing:
            self.missing_dependency.labels(group, version, kind).set(1)
        else:
            _drop(self.missing_dependency, group, version, kind)

    def set_tombstone_status(self, kind: str, name: str, namespace: str, *, status: int) -> None:
        """Record a tombstone outcome: one of TOMBSTONE_STATUSES."""
        if status not in TOMBSTONE_STATUSES:
            raise ValueError(f"invalid tombstone status {status} for {kind} {namespace}/{name}")
        self.tombstone_status.labels(kind, name, namespace).set(status)

    def remove_tombstone(self, kind: str, name: str, namespace: str) -> None:
        """Drop the series of a tombstone that is no longer reported."""
        _drop(self.tombstone_status, kind, name, namespace)

    @contextmanager
    def time_reconcile(self, kind: str, name: str, namespace: str) -> Iterator[None]:
        """Observe the duration of one pass over the object (also when it raises)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.reconcile_duration_seconds.labels(kind, name, namespace).observe(
                time.perf_counter() - start
            )

    def remove_series(self, kind: str, name: str, namespace: str) -> None:
        """Forget the compliance, pause and customization series of one object.

        Counters (thrashing) and histograms keep their history on purpose: a rate
        over them must not jump when an object leaves management.
        """
        _drop(self.compliance_status, kind, name, namespace)
        _drop(self.paused_resources, kind, name, namespace)
        for kind_of in CUSTOMIZATION_TYPES:
            _drop(self.customization_info, kind, name, namespace, kind_of)

    def set_leader(self, leading: bool) -> None:
        """1 while this replica leads."""
        self.leader_status.set(1 if leading else 0)

    # -- reading back ---------------------------------------------------------

    def value(self, metric: str, /, **labels: str) -> float | None:
        """The current value of one sample (full name, e.g. ``virt_platform_..._total``)."""
        return self.registry.get_sample_value(metric, labels)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (0.0.4), grep-friendly."""
        return render_text(self.registry.collect())


def _drop(metric: Any, *labels: str) -> None:
    """Remove one series; an absent one is fine (older clients raise KeyError for it)."""
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
