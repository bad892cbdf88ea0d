"""Metrics: names, label order and a text exposition the runbooks can grep."""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import pytest
from prometheus_client.metrics_core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from autopilot.observability.exposition import CONTENT_TYPE, format_value, render_text
from autopilot.observability.metrics import TOMBSTONE_ERROR, TOMBSTONE_SKIPPED, Metrics

GREP = shutil.which("grep")


def grep(text: bytes, *patterns: str) -> list[str]:
    """Pipe ``text`` through ``grep p1 | grep p2 ...`` like the runbook does."""
    if GREP is None:
        pytest.skip("grep is not installed")
    out = text
    for pattern in patterns:
        proc = subprocess.run([GREP, pattern], input=out, capture_output=True, check=False)
        assert proc.returncode in (0, 1), proc.stderr
        out = proc.stdout
    return out.decode().splitlines()


def test_contract_metric_names_and_label_order() -> None:
    m = Metrics()
    m.set_compliance("ConfigMap", "cfg", "openshift-cnv", ok=True)
    m.record_thrashing("MachineConfig", "90-swap", "")
    m.set_paused("MachineConfig", "90-swap", "", paused=True)
    m.set_customizations("ConfigMap", "cfg", "openshift-cnv", types=["patch"])
    m.set_missing_dependency("operator.openshift.io", "v1", "KubeDescheduler", missing=True)
    m.set_tombstone_status("ConfigMap", "old", "openshift-cnv", status=TOMBSTONE_ERROR)
    with m.time_reconcile("ConfigMap", "cfg", "openshift-cnv"):
        pass
    text = m.exposition().decode()
    expected = [
        'virt_platform_compliance_status{kind="ConfigMap",name="cfg",namespace="openshift-cnv"} 1',
        'virt_platform_thrashing_total{kind="MachineConfig",name="90-swap",namespace=""} 1',
        'virt_platform_paused_resources{kind="MachineConfig",name="90-swap",namespace=""} 1',
        'virt_platform_customization_info{kind="ConfigMap",name="cfg",'
        'namespace="openshift-cnv",type="patch"} 1',
        'virt_platform_missing_dependency{group="operator.openshift.io",version="v1",'
        'kind="KubeDescheduler"} 1',
        'virt_platform_tombstone_status{kind="ConfigMap",name="old",namespace="openshift-cnv"} -1',
        'virt_platform_reconcile_duration_seconds_count{kind="ConfigMap",name="cfg",'
        'namespace="openshift-cnv"} 1',
    ]
    lines = text.splitlines()
    for line in expected:
        assert line in lines, f"missing line {line!r}"
    assert "# TYPE virt_platform_thrashing_total counter" in lines
    assert "# TYPE virt_platform_reconcile_duration_seconds histogram" in lines
    assert "_created" not in text


def test_reconcile_buckets_span_5ms_to_10s() -> None:
    m = Metrics()
    m.reconcile_duration_seconds.labels("K", "n", "").observe(0.2)
    les = re.findall(r'virt_platform_reconcile_duration_seconds_bucket\{.*le="([^"]+)"\}', (
        m.exposition().decode()
    ))
    assert les[0] == "0.005"
    assert les[-2:] == ["10.0", "+Inf"]


def test_runtime_metrics_are_prefixed_and_exposed() -> None:
    m = Metrics()
    m.workqueue_depth.labels("assets").set(3)
    m.workqueue_adds_total.labels("assets").inc()
    m.workqueue_retries_total.labels("assets").inc()
    m.workqueue_queue_duration_seconds.labels("assets").observe(0.01)
    m.workqueue_work_duration_seconds.labels("assets").observe(0.02)
    m.watch_restarts_total.labels("ConfigMap").inc()
    m.watch_relists_total.labels("ConfigMap").inc()
    m.api_requests_total.labels("PATCH", "409").inc()
    m.set_leader(True)
    lines = m.exposition().decode().splitlines()
    for line in (
        'virt_platform_workqueue_depth{name="assets"} 3',
        'virt_platform_workqueue_adds_total{name="assets"} 1',
        'virt_platform_workqueue_retries_total{name="assets"} 1',
        'virt_platform_workqueue_queue_duration_seconds_count{name="assets"} 1',
        'virt_platform_workqueue_work_duration_seconds_count{name="assets"} 1',
        'virt_platform_watch_restarts_total{kind="ConfigMap"} 1',
        'virt_platform_watch_relists_total{kind="ConfigMap"} 1',
        'virt_platform_api_requests_total{verb="PATCH",code="409"} 1',
        "virt_platform_leader_status 1",
    ):
        assert line in lines, f"missing line {line!r}"
    assert any(
        line.startswith('virt_platform_build_info{version="') and line.endswith("} 1")
        for line in lines
    )


def test_runbook_greps_find_failing_object_as_real_grep() -> None:
    m = Metrics()
    m.set_compliance("KubeDescheduler", "cluster", "openshift-kube-descheduler-operator", ok=False)
    m.set_compliance("ConfigMap", "kubevirt-ui-features", "openshift-cnv", ok=True)
    text = m.exposition()

    failing = grep(text, "virt_platform_compliance_status", "} 0$")
    assert failing == [
        'virt_platform_compliance_status{kind="KubeDescheduler",name="cluster",'
        'namespace="openshift-kube-descheduler-operator"} 0'
    ]
    one = grep(text, "virt_platform_compliance_status.*ConfigMap.*kubevirt-ui-features", "} 1$")
    assert len(one) == 1
    assert grep(text, "virt_platform_compliance_status.*KubeDescheduler.*cluster", "} 1$") == []

    # Back in sync: the "only failures" query comes back empty.
    m.set_compliance("KubeDescheduler", "cluster", "openshift-kube-descheduler-operator", ok=True)
    assert grep(m.exposition(), "virt_platform_compliance_status", "} 0$") == []
    assert len(grep(m.exposition(), "virt_platform_thrashing_total")) == 2  # HELP + TYPE only


def test_remove_series_drops_object_but_keeps_counters() -> None:
    m = Metrics()
    m.set_compliance("ConfigMap", "a", "ns", ok=False)
    m.set_paused("ConfigMap", "a", "ns", paused=True)
    m.record_thrashing("ConfigMap", "a", "ns")
    m.set_customizations("ConfigMap", "a", "ns", types=["patch", "ignore"])
    m.set_compliance("ConfigMap", "b", "ns", ok=True)

    m.remove_series("ConfigMap", "a", "ns")
    m.remove_series("ConfigMap", "never-seen", "ns")  # absent series: no error

    assert m.value("virt_platform_compliance_status", kind="ConfigMap", name="a",
                   namespace="ns") is None
    assert m.value("virt_platform_paused_resources", kind="ConfigMap", name="a",
                   namespace="ns") is None
    assert m.value("virt_platform_customization_info", kind="ConfigMap", name="a",
                   namespace="ns", type="patch") is None
    assert m.value("virt_platform_thrashing_total", kind="ConfigMap", name="a",
                   namespace="ns") == 1
    assert m.value("virt_platform_compliance_status", kind="ConfigMap", name="b",
                   namespace="ns") == 1


def test_customizations_replace_previous_set_and_reject_unknown_types() -> None:
    m = Metrics()
    m.set_customizations("K", "n", "", types=["patch", "unmanaged"])
    m.set_customizations("K", "n", "", types=["ignore"])
    got = {
        t: m.value("virt_platform_customization_info", kind="K", name="n", namespace="", type=t)
        for t in ("patch", "ignore", "unmanaged")
    }
    assert got == {"patch": None, "ignore": 1, "unmanaged": None}
    with pytest.raises(ValueError, match="bogus"):
        m.set_customizations("K", "n", "", types=["bogus"])


def test_pause_dependency_and_tombstone_helpers() -> None:
    m = Metrics()
    m.set_paused("K", "n", "ns", paused=True)
    m.set_paused("K", "n", "ns", paused=False)
    assert m.value("virt_platform_paused_resources", kind="K", name="n", namespace="ns") is None

    m.set_missing_dependency("g", "v1", "K", missing=True)
    m.set_missing_dependency("g", "v1", "K", missing=False)
    assert m.value("virt_platform_missing_dependency", group="g", version="v1", kind="K") is None

    m.set_tombstone_status("K", "n", "ns", status=TOMBSTONE_SKIPPED)
    assert grep(m.exposition(), "virt_platform_tombstone_status.*K.*n") [-1].endswith("} -2")
    m.remove_tombstone("K", "n", "ns")
    assert m.value("virt_platform_tombstone_status", kind="K", name="n", namespace="ns") is None
    with pytest.raises(ValueError, match="tombstone status 5"):
        m.set_tombstone_status("K", "n", "ns", status=5)


def test_time_reconcile_observes_even_on_error() -> None:
    m = Metrics()
    with pytest.raises(RuntimeError), m.time_reconcile("K", "n", ""):
        raise RuntimeError("boom")
    assert m.value("virt_platform_reconcile_duration_seconds_count", kind="K", name="n",
                   namespace="") == 1


def test_instances_do_not_share_series() -> None:
    a, b = Metrics(), Metrics()
    a.set_compliance("K", "n", "", ok=True)
    assert b.value("virt_platform_compliance_status", kind="K", name="n", namespace="") is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.0, "0"),
        (-2.0, "-2"),
        (1.5, "1.5"),
        (0.005, "0.005"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
        (2.0**60, repr(2.0**60)),
        (1e-300, "1e-300"),
    ],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


def test_exposition_parses_back_with_special_values_and_escapes() -> None:
    fam = GaugeMetricFamily("odd", 'help with \\ and\nnewline', labels=["v"])
    fam.add_metric(['quote " back \\ nl \n'], float("nan"))
    fam.add_metric(["inf"], float("inf"))
    fam.add_metric(["frac"], 0.25)
    text = render_text([fam]).decode()
    [parsed] = list(text_string_to_metric_families(text))
    assert parsed.documentation == "help with \\ and\nnewline"
    values = {s.labels["v"]: s.value for s in parsed.samples}
    assert math.isnan(values['quote " back \\ nl \n'])
    assert values["inf"] == float("inf")
    assert values["frac"] == 0.25


def test_whole_exposition_is_valid_prometheus_text() -> None:
    m = Metrics()
    m.set_compliance("K", "n", "", ok=False)
    m.reconcile_duration_seconds.labels("K", "n", "").observe(0.3)
    m.record_thrashing("K", "n", "")
    names = {f.name for f in text_string_to_metric_families(m.exposition().decode())}
    assert {"virt_platform_compliance_status", "virt_platform_thrashing",
            "virt_platform_reconcile_duration_seconds"} <= names
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")
