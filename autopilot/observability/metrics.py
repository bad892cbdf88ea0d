"""Prometheus metrics of the controller (contract §8) and their text exposition.

Every :class:`Metrics` owns its own ``CollectorRegistry`` so that tests can run
several controllers in one process without the series of one leaking into
another.

The exposition is rendered here rather than by ``generate_latest`` because the
runbooks grep it as text: labels must come in the declared order (kind, name,
namespace) and integral values must print as integers (``} 1``, not ``} 1.0``).
"""

from __future__ import annotations

import contextlib
import math
import platform
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric

from autopilot import __version__

PREFIX = "virt_platform_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

OBJECT_LABELS = ("kind", "name", "namespace")
# The ``type`` label values of customization_info; the engine names what it finds with them.
CUSTOMIZATION_PATCH = "patch"
CUSTOMIZATION_IGNORE = "ignore"
CUSTOMIZATION_UNMANAGED = "unmanaged"
CUSTOMIZATION_TYPES = (CUSTOMIZATION_PATCH, CUSTOMIZATION_IGNORE, CUSTOMIZATION_UNMANAGED)

# One asset pass: from a cache hit (milliseconds) to a slow API server (seconds).
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Work-queue waits and work can be longer than a pass (backoff, many objects).
QUEUE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

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


class Metrics:
    """All metrics of one controller, registered in a registry of its own."""

    def __init__(self, *, version: str = __version__) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._golden_state_metrics(self.registry)
        self._controller_metrics(self.registry)
        self.build_info = Gauge(
            PREFIX + "build_info",
            "Build information; always 1",
            ("version", "python_version"),
            registry=self.registry,
        )
        self.build_info.labels(version, platform.python_version()).set(1)

    def _golden_state_metrics(self, reg: CollectorRegistry) -> None:
        """Golden-state compliance and its exceptions (contract §8)."""
        self.compliance_status = Gauge(
            PREFIX + "compliance_status",
            "1 when the object matches the Golden State, 0 when drifted or failing to apply",
            OBJECT_LABELS,
            registry=reg,
        )
        self.thrashing_total = Counter(
            PREFIX + "thrashing",
            "Edit-war episodes detected on the object (each one pauses it)",
            OBJECT_LABELS,
            registry=reg,
        )
        self.paused_resources = Gauge(
            PREFIX + "paused_resources",
            "1 while the object carries reconcile-paused after an edit war",
            OBJECT_LABELS,
            registry=reg,
        )
        self.customization_info = Gauge(
            PREFIX + "customization_info",
            "1 while a user customization (patch, ignore, unmanaged) is present and valid",
            (*OBJECT_LABELS, "type"),
            registry=reg,
        )
        self.missing_dependency = Gauge(
            PREFIX + "missing_dependency",
            "1 while an active asset cannot be applied because its CRD is not installed",
            ("group", "version", "kind"),
            registry=reg,
        )
        self.reconcile_duration_seconds = Histogram(
            PREFIX + "reconcile_duration_seconds",
            "Duration of one reconcile pass over an object",
            OBJECT_LABELS,
            buckets=RECONCILE_BUCKETS,
            registry=reg,
        )
        self.tombstone_status = Gauge(
            PREFIX + "tombstone_status",
            "Tombstone outcome: 0 deleted or absent, -1 error, -2 skipped (not ours),"
            " -3 waiting for its replacement, 1 kept (replacement not managed here)",
            OBJECT_LABELS,
            registry=reg,
        )

    def _controller_metrics(self, reg: CollectorRegistry) -> None:
        """The controller's own health: work queue, watches, API requests, leadership."""
        self.workqueue_depth = Gauge(
            PREFIX + "workqueue_depth",
            "Keys waiting in the work queue",
            ("name",),
            registry=reg,
        )
        self.workqueue_adds_total = Counter(
            PREFIX + "workqueue_adds",
            "Keys added to the work queue",
            ("name",),
            registry=reg,
        )
        self.workqueue_retries_total = Counter(
            PREFIX + "workqueue_retries",
            "Keys re-added to the work queue with a rate-limited delay",
            ("name",),
            registry=reg,
        )
        self.workqueue_queue_duration_seconds = Histogram(
            PREFIX + "workqueue_queue_duration_seconds",
            "Time a key waited in the work queue before a worker took it",
            ("name",),
            buckets=QUEUE_BUCKETS,
            registry=reg,
        )
        self.workqueue_work_duration_seconds = Histogram(
            PREFIX + "workqueue_work_duration_seconds",
            "Time a worker spent processing one key",
            ("name",),
            buckets=QUEUE_BUCKETS,
            registry=reg,
        )
        self.watch_restarts_total = Counter(
            PREFIX + "watch_restarts",
            "Watch streams re-opened after they ended or broke",
            ("kind",),
            registry=reg,
        )
        self.watch_relists_total = Counter(
            PREFIX + "watch_relists",
            "Full relists of a kind (start, 410 Gone)",
            ("kind",),
            registry=reg,
        )
        self.api_requests_total = Counter(
            PREFIX + "api_requests",
            "Requests made to the Kubernetes API server by verb and HTTP status code",
            ("verb", "code"),
            registry=reg,
        )
        self.leader_status = Gauge(
            PREFIX + "leader_status",
            "1 while this replica holds the leader lease",
            registry=reg,
        )

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


# -- text format ---------------------------------------------------------------

_TYPE_NAMES = {
    "counter": "counter",
    "gauge": "gauge",
    "histogram": "histogram",
    "summary": "summary",
    "info": "gauge",
    "stateset": "gauge",
    "gaugehistogram": "histogram",
    "unknown": "untyped",
}


def format_value(value: float) -> str:
    """Print a sample value; integral values without a fractional part."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    # Below 2**53 every integral float is exact, so int() loses nothing.
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_text(families: Iterable[Metric]) -> bytes:
    """Render metric families in the Prometheus text format.

    Labels keep their declared order; ``_created`` samples (an OpenMetrics
    notion) are left out.
    """
    lines: list[str] = []
    for family in families:
        name = family.name + "_total" if family.type == "counter" else family.name
        if family.type == "info":
            name = family.name + "_info"
        lines.append(f"# HELP {name} {_escape_help(family.documentation)}")
        lines.append(f"# TYPE {name} {_TYPE_NAMES.get(family.type, 'untyped')}")
        for sample in family.samples:
            if sample.name == family.name + "_created":
                continue
            labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sample.labels.items())
            label_text = "{" + labels + "}" if labels else ""
            line = f"{sample.name}{label_text} {format_value(sample.value)}"
            if sample.timestamp is not None:
                line += f" {int(float(sample.timestamp) * 1000)}"
            lines.append(line)
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
