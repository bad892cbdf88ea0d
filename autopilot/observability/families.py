"""The metric families of the controller (contract §8): names, help, labels, buckets.

Every :class:`MetricFamilies` owns its own ``CollectorRegistry`` so that tests can
run several controllers in one process without the series of one leaking into
another. What the controller records in them, and how, is
:class:`autopilot.observability.metrics.Metrics`.
"""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from autopilot import __version__

PREFIX = "virt_platform_"
OBJECT_LABELS = ("kind", "name", "namespace")

# One asset pass: from a cache hit (milliseconds) to a slow API server (seconds).
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Work-queue waits and work can be longer than a pass (backoff, many objects).
QUEUE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class MetricFamilies:
    """Every family of one controller, registered in a registry of its own."""

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
