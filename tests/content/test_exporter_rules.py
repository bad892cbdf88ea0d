"""The KubeVirt Metrics Exporter's rules, with promtool, over the label sets Prometheus stores.

The exporter's series are given the labels it exposes (a VM's namespace, name and
virt-launcher pod; a node; a disk ...) and go through the rendered PodMonitor's scrape
semantics (``tests/support/scrape.py``: honorLabels, jobLabel). For every one of the 22
alerts a scenario proves it fires when it should, with the labels and text it should
carry, and a healthy node fires none of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.promtool import (
    needs_promtool,
    run_promtool,
    write_rules,
    write_yaml,
)
from tests.support.rendering import context, load, make_hco, one
from tests.support.scrape import Target, pod_monitor_target, series_text, stored, up_series

EXPORTER_POD = "kubevirt-metrics-exporter-7xk2p"
VM = {"namespace": "prod", "name": "db", "pod": "virt-launcher-db-abcde", "node": "worker-1"}
WEB = {"namespace": "prod", "name": "web", "pod": "virt-launcher-web-fghij", "node": "worker-1"}
PVC = {"namespace": "prod", "persistentvolumeclaim": "db-data", "pod": "virt-launcher-db-abcde",
       "node": "worker-1"}
KSM_STATE = {"job": "kube-state-metrics", "instance": "10.128.0.9:8443",
             "namespace": "kubevirt-metrics-exporter", "daemonset": "kubevirt-metrics-exporter"}
SLOW = {"0.05": "0+0x40", "0.1": "0+0x40", "0.25": "0+60x40", "0.5": "0+60x40",
        "1": "0+60x40", "+Inf": "0+60x40"}          # every observation 100-250 ms
SLOWER = {"0.05": "0+0x40", "0.1": "0+0x40", "0.25": "0+0x40", "0.5": "0+60x40",
          "1": "0+60x40", "+Inf": "0+60x40"}        # 250-500 ms
SLOWEST = {"0.05": "0+0x40", "0.1": "0+0x40", "0.25": "0+0x40", "0.5": "0+0x40",
           "1": "0+60x40", "+Inf": "0+60x40"}       # 0.5-1 s
FAST = {le: "0+60x40" for le in SLOW}               # everything under 50 ms


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, Any]]:
    golden = load()
    ctx = context(make_hco({"platform.kubevirt.io/enable-kubevirt-metrics-exporter": "true"}))
    return {name: one(golden, name, ctx) for name in (
        "kubevirt-metrics-exporter-podmonitor", "kubevirt-metrics-exporter-prometheusrule",
        "kubevirt-metrics-exporter-daemonset")}


@pytest.fixture(scope="module")
def target(rendered: dict[str, dict[str, Any]]) -> Target:
    pod_labels = rendered["kubevirt-metrics-exporter-daemonset"]["spec"]["template"][
        "metadata"]["labels"]
    return pod_monitor_target(rendered["kubevirt-metrics-exporter-podmonitor"],
                              pod=EXPORTER_POD, pod_ip="10.131.0.21", port=8080,
                              container="exporter", pod_labels=pod_labels)


@pytest.fixture(scope="module")
def alerts(rendered: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups = rendered["kubevirt-metrics-exporter-prometheusrule"]["spec"]["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


@dataclass
class Scenario:
    """Input series (exposed labels, or stored labels for ``up`` and kube-state-metrics),
    when to look, and the labels the alert must carry (before the rule's own labels)."""

    alert: str
    series: list[tuple[str, Mapping[str, str], str, bool]] = field(default_factory=list)
    at: str = "20m"
    quiet_at: str = "2m"
    fires_with: list[dict[str, str]] = field(default_factory=list)


def histogram(metric: str, labels: Mapping[str, str], buckets: Mapping[str, str]
              ) -> list[tuple[str, Mapping[str, str], str, bool]]:
    out = [(f"{metric}_bucket", {**labels, "le": le}, values, False)
           for le, values in buckets.items()]
    out.append((f"{metric}_count", labels, buckets["+Inf"], False))
    return out


def keep(labels: Mapping[str, str], *names: str) -> dict[str, str]:
    return {k: labels[k] for k in names if labels.get(k)}


def scenarios(target: Target) -> list[Scenario]:
    t = dict(target.labels)

    def exposed_only(labels: Mapping[str, str]) -> dict[str, str]:
        return stored(labels, target)

    vm_read = {**VM, "disk": "vda", "operation": "read"}
    vm_write = {**vm_read, "operation": "write"}
    vm_flush = {**vm_read, "operation": "flush"}
    web_read = {**WEB, "disk": "vda", "operation": "read"}
    queue = {**VM, "disk": "vdb", "persistentvolumeclaim": "db-data", "bus": "virtio"}
    guest = {**VM, "disk": "vda", "operation": "write"}
    block = {**PVC, "operation": "write"}
    node = {"node": "worker-1"}
    health: dict[str, str] = {}
    return [
        Scenario("VMIStorageReadLatencyHigh",
                 histogram("kubevirt_vmi_storage_io_latency_seconds", vm_read, SLOW),
                 at="15m", quiet_at="8m",
                 fires_with=[keep(vm_read, "namespace", "name", "node", "disk", "operation")]),
        Scenario("VMIStorageWriteLatencyHigh",
                 histogram("kubevirt_vmi_storage_io_latency_seconds", vm_write, SLOW),
                 at="15m", quiet_at="8m",
                 fires_with=[keep(vm_write, "namespace", "name", "node", "disk", "operation")]),
        Scenario("VMIStorageFlushLatencyHigh",
                 histogram("kubevirt_vmi_storage_io_latency_seconds", vm_flush, SLOWEST),
                 at="20m", quiet_at="12m",
                 fires_with=[keep(vm_flush, "namespace", "name", "node", "disk")]),
        Scenario("NodeVMStorageLatencyWidespread",
                 histogram("kubevirt_vmi_storage_io_latency_seconds", vm_read, SLOW)
                 + histogram("kubevirt_vmi_storage_io_latency_seconds", web_read, SLOW),
                 at="15m", quiet_at="8m", fires_with=[node]),
        Scenario("VMIDiskSaturated",
                 [("kubevirt_vmi_storage_queue_inuse", queue, "95x20", False),
                  ("kubevirt_vmi_storage_queue_size", queue, "100x20", False)],
                 at="8m", quiet_at="4m",
                 fires_with=[keep(queue, "namespace", "name", "node", "disk",
                                  "persistentvolumeclaim", "bus")]),
        Scenario("VMIGuestStorageLatencyHigh",
                 [("kubevirt_vmi_storage_guest_latency_avg_seconds", guest, "0.2x20", False)],
                 at="16m", quiet_at="14m", fires_with=[exposed_only(guest)]),
        Scenario("PVCBlockLatencyHigh",
                 histogram("kme_block_io_latency_seconds", block, SLOW),
                 at="15m", quiet_at="8m",
                 fires_with=[keep(block, "namespace", "persistentvolumeclaim", "pod",
                                  "operation")]),
        Scenario("PVCNFSLatencyHigh",
                 histogram("kme_nfs_io_latency_seconds", block, SLOWER),
                 at="15m", quiet_at="8m",
                 fires_with=[keep(block, "namespace", "persistentvolumeclaim", "pod",
                                  "operation")]),
        Scenario("KSMDCPUHigh",
                 [("kme_cgroup_ksmd_cpu_seconds_total", node, "0+60x20", False)],
                 at="8m", quiet_at="3m", fires_with=[exposed_only(node)]),
        Scenario("KhugepagedCPUHigh",
                 [("kme_cgroup_khugepaged_cpu_seconds_total", node, "0+12x20", False)],
                 at="8m", quiet_at="3m", fires_with=[exposed_only(node)]),
        *(Scenario(f"KME{sub}PollStale",
                   [(f"kme_{metric}_last_poll_timestamp_seconds", health, "0x20", False)],
                   at="10m", quiet_at="4m" if sub in ("KVM", "Cgroup") else "5m",
                   fires_with=[exposed_only(health)])
          for sub, metric in (("QMP", "qmp"), ("QGA", "qga"), ("KVM", "kvm"),
                              ("Cgroup", "cgroup"))),
        *(Scenario(f"KME{sub}ScrapeErrors",
                   # rate() over 15m of a counter that just started: it reaches 0.1/s
                   # after ~8 minutes, so the alert fires ~15 minutes later.
                   [(f"kme_{metric}_scrape_errors_total", health, "0+12x40", False)],
                   at="25m", quiet_at="20m", fires_with=[exposed_only(health)])
          for sub, metric in (("QMP", "qmp"), ("QGA", "qga"), ("KVM", "kvm"),
                              ("Cgroup", "cgroup"))),
        Scenario("KMEeBPFSubsystemDown",
                 [("kme_subsystem_active", {"subsystem": "block"}, "0x20", False),
                  ("kme_subsystem_active", {"subsystem": "nfs"}, "1x20", False)],
                 at="12m", quiet_at="8m",
                 fires_with=[exposed_only({"subsystem": "block"})]),
        Scenario("KMETargetDown",
                 [("up", up_series(target), "0x20", True)],
                 at="12m", quiet_at="8m", fires_with=[t]),
        Scenario("KMEAbsent",
                 [("up", up_series(target), "0x20", True)],
                 at="12m", quiet_at="8m", fires_with=[{}]),
        Scenario("KMEDegraded",
                 [("kube_daemonset_status_number_unavailable", KSM_STATE, "1x20", True)],
                 at="16m", quiet_at="14m", fires_with=[dict(KSM_STATE)]),
    ]


def healthy(target: Target) -> list[tuple[str, Mapping[str, str], str, bool]]:
    """A node where everything is fine: fast disks, idle threads, fresh polls."""
    vm_read = {**VM, "disk": "vda", "operation": "read"}
    out = histogram("kubevirt_vmi_storage_io_latency_seconds", vm_read, FAST)
    out += histogram("kubevirt_vmi_storage_io_latency_seconds",
                     {**vm_read, "operation": "flush"}, FAST)
    out += histogram("kme_block_io_latency_seconds", {**PVC, "operation": "read"}, FAST)
    out += histogram("kme_nfs_io_latency_seconds", {**PVC, "operation": "read"}, FAST)
    queue = {**VM, "disk": "vdb", "persistentvolumeclaim": "db-data", "bus": "virtio"}
    out += [("kubevirt_vmi_storage_queue_inuse", queue, "10x40", False),
            ("kubevirt_vmi_storage_queue_size", queue, "100x40", False),
            ("kubevirt_vmi_storage_guest_latency_avg_seconds", {**VM, "disk": "vda",
                                                                 "operation": "read"},
             "0.002x40", False),
            ("kme_cgroup_ksmd_cpu_seconds_total", {"node": "worker-1"}, "0+3x40", False),
            ("kme_cgroup_khugepaged_cpu_seconds_total", {"node": "worker-1"}, "0+1x40", False),
            ("kme_subsystem_active", {"subsystem": "block"}, "1x40", False),
            ("up", up_series(target), "1x40", True),
            ("kube_daemonset_status_number_unavailable", KSM_STATE, "0x40", True)]
    for metric in ("qmp", "qga", "kvm", "cgroup"):
        out.append((f"kme_{metric}_last_poll_timestamp_seconds", {}, "0+60x40", False))
        out.append((f"kme_{metric}_scrape_errors_total", {}, "0x40", False))
    return out


def expand(template: str, labels: Mapping[str, str]) -> str:
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)


def input_series(series: list[tuple[str, Mapping[str, str], str, bool]], target: Target
                 ) -> list[dict[str, str]]:
    return [{"series": series_text(name, labels if is_stored else stored(labels, target)),
             "values": values} for name, labels, values, is_stored in series]


def promtool_file(target: Target, alerts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    tests = []
    for sc in scenarios(target):
        rule = alerts[sc.alert]
        firing = [{"exp_labels": {**labels, **rule["labels"]},
                   "exp_annotations": {k: expand(v, labels)
                                       for k, v in rule["annotations"].items()}}
                  for labels in sc.fires_with]
        tests.append({
            "name": sc.alert, "interval": "1m",
            "input_series": input_series(sc.series, target),
            "alert_rule_test": [
                {"eval_time": sc.quiet_at, "alertname": sc.alert, "exp_alerts": []},
                {"eval_time": sc.at, "alertname": sc.alert, "exp_alerts": firing},
            ],
        })
    tests.append({
        "name": "a healthy node fires nothing", "interval": "1m",
        "input_series": input_series(healthy(target), target),
        "alert_rule_test": [{"eval_time": at, "alertname": name, "exp_alerts": []}
                            for name in alerts for at in ("10m", "30m")],
    })
    return {"rule_files": ["rules.yaml"], "evaluation_interval": "30s", "tests": tests}


@pytest.fixture
def rules_dir(tmp_path: Path, rendered: dict[str, dict[str, Any]]) -> Path:
    return write_rules(tmp_path, rendered["kubevirt-metrics-exporter-prometheusrule"])


def test_every_alert_has_a_scenario(target: Target, alerts: dict[str, dict[str, Any]]) -> None:
    assert len(alerts) == 22
    assert {sc.alert for sc in scenarios(target)} == set(alerts)


def test_vm_series_keep_the_vms_own_labels(target: Target) -> None:
    assert target.honor_labels and target.labels["job"] == "kubevirt-metrics-exporter"
    labels = stored({**VM, "disk": "vda"}, target)
    assert (labels["namespace"], labels["pod"]) == ("prod", "virt-launcher-db-abcde")
    own = stored({"subsystem": "block"}, target)
    assert (own["namespace"], own["pod"]) == ("kubevirt-metrics-exporter", EXPORTER_POD)


@needs_promtool
def test_promtool_check_rules(rules_dir: Path) -> None:
    proc = run_promtool("check", "rules", "rules.yaml", cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "24 rules found" in proc.stdout + proc.stderr  # 2 recording rules, 22 alerts


@needs_promtool
def test_promtool_every_alert(rules_dir: Path, target: Target,
                              alerts: dict[str, dict[str, Any]]) -> None:
    write_yaml(rules_dir / "tests.yaml", promtool_file(target, alerts))
    proc = run_promtool("test", "rules", "tests.yaml", cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_promtool
def test_promtool_catches_a_wrong_label(rules_dir: Path, target: Target,
                                        alerts: dict[str, dict[str, Any]]) -> None:
    """Guard: the exporter's namespace in place of the VM's must not pass."""
    data = promtool_file(target, alerts)
    firing = data["tests"][0]["alert_rule_test"][1]["exp_alerts"][0]
    firing["exp_labels"]["namespace"] = "kubevirt-metrics-exporter"
    write_yaml(rules_dir / "wrong.yaml", data)
    assert run_promtool("test", "rules", "wrong.yaml", cwd=rules_dir).returncode != 0


def every_rendered(kind: str) -> dict[str, dict[str, Any]]:
    """Every object of ``kind`` the golden state renders with every switch on."""
    from autopilot.golden.kinds import all_on_contexts
    from autopilot.golden.lookups import SnapshotLookups
    from autopilot.golden.render import render_asset

    golden = load()
    lookups = SnapshotLookups([{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                "metadata": {"name": "standard", "annotations": {
                                    "storageclass.kubernetes.io/is-default-class": "true"}}}])
    return {obj["metadata"]["name"]: obj
            for ctx in all_on_contexts(golden) for asset in golden.assets
            for obj in render_asset(golden, asset, ctx, lookups=lookups)
            if obj["kind"] == kind}


def test_every_rule_file_has_promtool_tests() -> None:
    """Our alerts (test_alerts, test_scraped_alerts) and the exporter's (this module);
    a new PrometheusRule must come with its own promtool tests."""
    assert set(every_rendered("PrometheusRule")) == {
        "virt-platform-autopilot-alerts", "kubevirt-metrics-exporter"}


def test_every_scrape_config_keeps_the_exporters_labels() -> None:
    monitors = [*every_rendered("ServiceMonitor").values(),
                *every_rendered("PodMonitor").values()]
    assert len(monitors) == 2
    for monitor in monitors:
        endpoints = monitor["spec"].get("endpoints") or monitor["spec"]["podMetricsEndpoints"]
        assert all(e.get("honorLabels") is True for e in endpoints), monitor["metadata"]
