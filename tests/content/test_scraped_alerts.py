"""Our alerts and runbooks against the label sets Prometheus really stores.

The controller's exposition (from the real metrics code) goes through the rendered
ServiceMonitor's scrape semantics (``tests/support/scrape.py``); promtool then proves
when each alert fires and with which labels, and runs every PromQL line of the
runbooks over the same series. The runbooks' "Labels on the alert" rows are held
against the alerts promtool produced.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from autopilot.observability.metrics import TOMBSTONE_SKIPPED, Metrics
from tests.support.promtool import needs_promtool, run_promtool, write_rules, write_yaml
from tests.support.rendering import context, load, make_hco, one
from tests.support.scrape import (
    Target,
    find,
    scraped,
    series_text,
    service_monitor_target,
    stored,
)

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "runbooks"

POD = "virt-platform-autopilot-6d8f9c7b5-x2x7q"
DESCHEDULER = {"kind": "KubeDescheduler", "name": "cluster",
               "namespace": "openshift-kube-descheduler-operator"}
SWAP_MC = {"kind": "MachineConfig", "name": "90-worker-swap-online", "namespace": ""}
UI_CM = {"kind": "ConfigMap", "name": "kubevirt-ui-features", "namespace": "openshift-cnv"}
OLD_CM = {"kind": "ConfigMap", "name": "old-settings", "namespace": "openshift-cnv"}
DEPENDENCY = {"group": "operator.openshift.io", "version": "v1", "kind": "KubeDescheduler"}


def exposition() -> str:
    """What the controller exposes while these objects are in trouble."""
    m = Metrics()
    m.set_compliance(DESCHEDULER["kind"], DESCHEDULER["name"], DESCHEDULER["namespace"],
                     ok=False)
    m.set_compliance(SWAP_MC["kind"], SWAP_MC["name"], "", ok=False)
    m.set_compliance(UI_CM["kind"], UI_CM["name"], UI_CM["namespace"], ok=True)
    m.set_paused(SWAP_MC["kind"], SWAP_MC["name"], "", paused=True)
    m.set_missing_dependency(DEPENDENCY["group"], DEPENDENCY["version"], DEPENDENCY["kind"],
                             missing=True)
    m.set_tombstone_status(OLD_CM["kind"], OLD_CM["name"], OLD_CM["namespace"],
                           status=TOMBSTONE_SKIPPED)
    return m.exposition().decode()


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, Any]]:
    golden = load()
    ctx = context(make_hco())
    return {name: one(golden, name, ctx)
            for name in ("autopilot-servicemonitor", "observability-alerts")}


@pytest.fixture(scope="module")
def target(rendered: dict[str, dict[str, Any]]) -> Target:
    return service_monitor_target(rendered["autopilot-servicemonitor"], pod=POD,
                                  pod_ip="10.128.2.15", container="autopilot")


@pytest.fixture(scope="module")
def samples(target: Target) -> list[tuple[str, dict[str, str], float]]:
    return [s for s in scraped(exposition(), target) if s[0].startswith("virt_platform_")
            and not s[0].endswith(("_created", "_bucket", "_sum", "_count"))]


@pytest.fixture(scope="module")
def alerts(rendered: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rendered["observability-alerts"]["spec"]["groups"]
            for r in g["rules"]}


# -- what Prometheus stores ------------------------------------------------------------


def test_the_object_namespace_survives_the_scrape(
    samples: list[tuple[str, dict[str, str], float]], target: Target
) -> None:
    assert target.honor_labels, "the ServiceMonitor must keep the controller's labels"
    namespaced = find(samples, "virt_platform_compliance_status", DESCHEDULER)
    assert namespaced["namespace"] == "openshift-kube-descheduler-operator"
    assert namespaced["pod"] == POD and namespaced["job"] == "virt-platform-autopilot-metrics"
    cluster_scoped = find(samples, "virt_platform_compliance_status", SWAP_MC)
    assert "namespace" not in cluster_scoped
    assert not any(k.startswith("exported_") for _, ls, _ in samples for k in ls)


def test_without_honor_labels_the_namespace_would_lie(target: Target) -> None:
    """Why honorLabels: otherwise every alert would name the controller's namespace."""
    plain = Target(target.labels, honor_labels=False)
    labels = stored({"kind": "KubeDescheduler", "name": "cluster",
                     "namespace": "openshift-kube-descheduler-operator"}, plain)
    assert labels["namespace"] == "openshift-cnv"
    assert labels["exported_namespace"] == "openshift-kube-descheduler-operator"
    assert "namespace" in stored({"kind": "MachineConfig", "namespace": ""}, plain)


# -- promtool ------------------------------------------------------------------------


def expand(template: str, labels: dict[str, str], value: str) -> str:
    """The subset of Prometheus alert templating our rules use."""

    def sub(m: re.Match[str]) -> str:
        return value if m.group(1) == "$value" else labels.get(m.group(2) or "", "")

    return re.sub(r"\{\{ (\$value|\$labels\.(\w+)) \}\}", sub, template)


def expected(alert: dict[str, Any], labels: dict[str, str], value: str) -> dict[str, Any]:
    return {"exp_labels": {**labels, **alert["labels"]},
            "exp_annotations": {k: expand(v, labels, value)
                                for k, v in alert["annotations"].items()}}


def check(alertname: str, at: str, *firing: dict[str, Any]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": alertname, "exp_alerts": list(firing)}


def promtool_cases(samples: list[tuple[str, dict[str, str], float]],
                   alerts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    inputs = [{"series": series_text(n, ls), "values": f"{v:g}x45"} for n, ls, v in samples]
    desched = find(samples, "virt_platform_compliance_status", DESCHEDULER)
    mc = find(samples, "virt_platform_compliance_status", SWAP_MC)
    paused = find(samples, "virt_platform_paused_resources", SWAP_MC)
    missing = find(samples, "virt_platform_missing_dependency", DEPENDENCY)
    tomb = find(samples, "virt_platform_tombstone_status", OLD_CM)
    sync, thrash = alerts["VirtPlatformSyncFailed"], alerts["VirtPlatformThrashingDetected"]
    dep, stuck = alerts["VirtPlatformDependencyMissing"], alerts["VirtPlatformTombstoneStuck"]
    return {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "30s",
        "tests": [{
            "name": "alerts over the scraped label sets",
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [
                check("VirtPlatformSyncFailed", "14m"),
                check("VirtPlatformSyncFailed", "16m",
                      expected(sync, desched, "0"), expected(sync, mc, "0")),
                check("VirtPlatformThrashingDetected", "1m", expected(thrash, paused, "1")),
                check("VirtPlatformDependencyMissing", "6m", expected(dep, missing, "1")),
                check("VirtPlatformTombstoneStuck", "29m"),
                check("VirtPlatformTombstoneStuck", "31m", expected(stuck, tomb, "-2")),
            ],
        }],
    }


@pytest.fixture
def rules_dir(tmp_path: Path, rendered: dict[str, dict[str, Any]]) -> Path:
    return write_rules(tmp_path, rendered["observability-alerts"])


@needs_promtool
def test_alerts_fire_with_the_stored_labels(
    rules_dir: Path, samples: list[tuple[str, dict[str, str], float]],
    alerts: dict[str, dict[str, Any]]
) -> None:
    write_yaml(rules_dir / "tests.yaml", promtool_cases(samples, alerts))
    proc = run_promtool("test", "rules", "tests.yaml", cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_promtool
def test_a_bare_label_set_is_not_what_fires(
    rules_dir: Path, samples: list[tuple[str, dict[str, str], float]],
    alerts: dict[str, dict[str, Any]]
) -> None:
    """Guard: expecting the labels without the scrape's target labels must fail."""
    cases = promtool_cases(samples, alerts)
    bare = {"kind": "KubeDescheduler", "name": "cluster",
            "namespace": "openshift-kube-descheduler-operator"}
    cases["tests"][0]["alert_rule_test"][1]["exp_alerts"][0] = expected(
        alerts["VirtPlatformSyncFailed"], bare, "0")
    write_yaml(rules_dir / "wrong.yaml", cases)
    assert run_promtool("test", "rules", "wrong.yaml", cwd=rules_dir).returncode != 0


# -- the runbooks ------------------------------------------------------------------------

# Per runbook: the values of its shell variables, the series its PromQL must return.
RUNBOOK_CASES = {
    "VirtPlatformSyncFailed": [
        ({"KIND": "KubeDescheduler", "NAME": "cluster",
          "OBJ_NS": "openshift-kube-descheduler-operator"},
         "virt_platform_compliance_status", DESCHEDULER),
        ({"KIND": "MachineConfig", "NAME": "90-worker-swap-online", "OBJ_NS": ""},
         "virt_platform_compliance_status", SWAP_MC),
    ],
    "VirtPlatformThrashingDetected": [
        ({"KIND": "MachineConfig", "NAME": "90-worker-swap-online", "OBJ_NS": ""},
         "virt_platform_paused_resources", SWAP_MC),
    ],
    "VirtPlatformDependencyMissing": [
        ({"GROUP": "operator.openshift.io", "VERSION": "v1", "KIND": "KubeDescheduler"},
         "virt_platform_missing_dependency", DEPENDENCY),
    ],
    "VirtPlatformTombstoneStuck": [
        ({"KIND": "ConfigMap", "NAME": "old-settings", "OBJ_NS": "openshift-cnv"},
         "virt_platform_tombstone_status", OLD_CM),
    ],
}


def promql_lines(runbook: str) -> list[str]:
    text = (RUNBOOKS / f"{runbook}.md").read_text()
    blocks = re.findall(r"```promql\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def substitute(query: str, variables: dict[str, str]) -> str:
    out = re.sub(r"\$([A-Z_]+)", lambda m: variables[m.group(1)], query)
    assert "$" not in out, out
    return out


def test_every_runbook_has_promql() -> None:
    for runbook in RUNBOOK_CASES:
        assert promql_lines(runbook), runbook


@needs_promtool
@pytest.mark.parametrize("runbook", sorted(RUNBOOK_CASES))
def test_runbook_promql_finds_the_object(
    runbook: str, rules_dir: Path, samples: list[tuple[str, dict[str, str], float]]
) -> None:
    inputs = [{"series": series_text(n, ls), "values": f"{v:g}x10"} for n, ls, v in samples]
    expr_tests = []
    for variables, metric, obj in RUNBOOK_CASES[runbook]:
        labels = find(samples, metric, obj)
        value = next(v for n, ls, v in samples if n == metric and ls == labels)
        for query in promql_lines(runbook):
            expr_tests.append({
                "expr": substitute(query, variables), "eval_time": "5m",
                "exp_samples": [{"labels": series_text(metric, labels), "value": value}],
            })
    write_yaml(rules_dir / "promql.yaml", {
        "rule_files": ["rules.yaml"], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": inputs, "promql_expr_test": expr_tests}],
    })
    proc = run_promtool("test", "rules", "promql.yaml", cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("runbook", sorted(RUNBOOK_CASES))
def test_labels_on_the_alert_rows_are_true(
    runbook: str, samples: list[tuple[str, dict[str, str], float]]
) -> None:
    row = next(line for line in (RUNBOOKS / f"{runbook}.md").read_text().splitlines()
               if line.startswith("| Labels on the alert |"))
    named = set(re.findall(r"`(\w+)`", row))
    for _, metric, obj in RUNBOOK_CASES[runbook]:
        labels = find(samples, metric, obj)
        for label in named:
            if label == "namespace" and not obj.get("namespace"):
                assert "namespace" not in labels and "absent for cluster-scoped" in row
            else:
                assert label in labels, (runbook, label)
        if "namespace" in named and obj.get("namespace"):
            assert labels["namespace"] == obj["namespace"]  # the object's, not ours
        if "pod" in named:
            assert labels["pod"] == POD
