"""The label sets Prometheus stores for our scrape configurations.

A ServiceMonitor or PodMonitor endpoint becomes a scrape target with target labels
(``job``, ``instance``, ``namespace``, ``pod``, ``container``, ``endpoint`` and, for a
ServiceMonitor, ``service``). For every scraped sample Prometheus merges those with
the labels the exporter exposed:

* ``honorLabels: true`` - an exposed label wins; a target label is only added when
  the sample does not carry that label at all. An exposed label with an empty value
  (a cluster-scoped object's ``namespace=""``) still counts as carried, and empty
  labels are then dropped, so the stored series has no ``namespace``.
* ``honorLabels`` false (the default) - every target label is set; an exposed label
  it collides with is renamed ``exported_<name>``.

``up`` carries the target labels only. Tests feed these stored label sets to promtool,
so rules, dashboards and runbooks are checked against what Prometheus really holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.support.prom import parse_metrics


@dataclass(frozen=True)
class Target:
    """One scraped pod of a ServiceMonitor/PodMonitor endpoint."""

    labels: Mapping[str, str]
    honor_labels: bool


def service_monitor_target(monitor: Mapping[str, Any], *, pod: str, pod_ip: str,
                           container: str) -> Target:
    """The target a ServiceMonitor's first endpoint makes of one pod behind its Service."""
    endpoint = monitor["spec"]["endpoints"][0]
    service = monitor["metadata"]["name"]  # our Service and ServiceMonitor share the name
    labels = {
        "job": service, "instance": f"{pod_ip}:8080", "namespace": monitor["metadata"]["namespace"],
        "pod": pod, "container": container, "service": service, "endpoint": endpoint["port"],
    }
    return Target(labels, bool(endpoint.get("honorLabels", False)))


def pod_monitor_target(monitor: Mapping[str, Any], *, pod: str, pod_ip: str, port: int,
                       container: str, pod_labels: Mapping[str, str]) -> Target:
    """The target a PodMonitor's first endpoint makes of one pod."""
    endpoint = monitor["spec"]["podMetricsEndpoints"][0]
    meta = monitor["metadata"]
    job_label = monitor["spec"].get("jobLabel")
    job = pod_labels[job_label] if job_label else f"{meta['namespace']}/{meta['name']}"
    labels = {
        "job": job, "instance": f"{pod_ip}:{port}", "namespace": meta["namespace"],
        "pod": pod, "container": container, "endpoint": endpoint["port"],
    }
    return Target(labels, bool(endpoint.get("honorLabels", False)))


def stored(exposed: Mapping[str, str], target: Target) -> dict[str, str]:
    """The labels Prometheus stores for one exposed sample of ``target``."""
    merged = dict(exposed)
    for name, value in target.labels.items():
        if target.honor_labels:
            if name not in exposed:
                merged[name] = value
        else:
            if exposed.get(name):
                merged[f"exported_{name}"] = exposed[name]
            merged[name] = value
    return {k: v for k, v in merged.items() if v}


def up_series(target: Target) -> dict[str, str]:
    """The ``up`` series of a target."""
    return dict(target.labels)


def scraped(exposition: str, target: Target) -> list[tuple[str, dict[str, str], float]]:
    """(metric, stored labels, value) of every sample in a text exposition."""
    return [(name, stored(dict(labels), target), value)
            for (name, labels), value in sorted(parse_metrics(exposition).items())]


def series_text(name: str, labels: Mapping[str, str]) -> str:
    """A series in promtool's notation."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def find(samples: Iterable[tuple[str, dict[str, str], float]], metric: str,
         labels: Mapping[str, str]) -> dict[str, str]:
    """Stored labels of the one sample of ``metric`` whose labels include ``labels``.

    An empty value in ``labels`` means the label is absent, as in PromQL.
    """
    found = [ls for n, ls, _ in samples
             if n == metric and all(ls.get(k, "") == v for k, v in labels.items())]
    assert len(found) == 1, (metric, labels, found)
    return found[0]
