"""The PrometheusRule of contract §9: its shape, and promtool proving when each alert fires.

promtool ships in Debian's ``prometheus`` package (.ci/setup installs it); without it the
promtool tests skip and say so (and fail in CI).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import pytest
from ruamel.yaml import YAML

from tests.support.promtool import needs_promtool, rules_yaml, run_promtool, write_rules, write_yaml

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "golden_state"
TEMPLATE = "assets/observability/prometheusrule-alerts.yaml.j2"

COMMON_LABELS = {
    "operator": "virt-platform-autopilot",
    "kubernetes_operator_part_of": "kubevirt",
    "kubernetes_operator_component": "autopilot",
}
CONTRACT = {
    # alert: (expr, for, severity)
    "VirtPlatformSyncFailed": ("virt_platform_compliance_status == 0", "15m", "critical"),
    "VirtPlatformThrashingDetected": ("virt_platform_paused_resources > 0", None, "warning"),
    "VirtPlatformDependencyMissing": ("virt_platform_missing_dependency == 1", "5m", "warning"),
    "VirtPlatformTombstoneStuck": ("virt_platform_tombstone_status < 0", "30m", "warning"),
}
RUNBOOK_BASE = "https://github.com/kubevirt/virt-platform-autopilot/blob/main/runbooks/"


def catalog_params() -> dict[str, str]:
    """The alert asset's params from the catalogue (the runbook location setting)."""
    data = YAML(typ="safe", pure=True).load((GOLDEN / "catalog" / "observability.yaml").read_text())
    [asset] = [a for a in data["assets"] if a["path"] == TEMPLATE]
    return {str(k): str(v) for k, v in (asset.get("params") or {}).items()}


def render_strict(namespace: str) -> str:
    """Plain Jinja2, strict undefined, only ``namespace`` and the catalogue's params known:
    proves nothing else is used."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(GOLDEN)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    return env.get_template(TEMPLATE).render(namespace=namespace, params=catalog_params())


def render_with_engine(namespace: str) -> str:
    """The golden engine's own environment."""
    from autopilot.golden.templating import make_environment

    return make_environment(GOLDEN).get_template(TEMPLATE).render(
        namespace=namespace, params=catalog_params())


@pytest.fixture(scope="module")
def rule() -> dict[str, Any]:
    docs = [d for d in rules_yaml().load_all(render_with_engine("openshift-cnv")) if d is not None]
    assert len(docs) == 1, f"{TEMPLATE} must render exactly one document"
    doc: dict[str, Any] = docs[0]
    return doc


@pytest.fixture(scope="module")
def alerts(rule: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [group] = rule["spec"]["groups"]
    return {r["alert"]: r for r in group["rules"]}


def test_template_only_needs_namespace() -> None:
    docs = list(rules_yaml().load_all(render_strict("some-ns")))
    assert docs[0]["metadata"]["namespace"] == "some-ns"


def test_engine_and_plain_render_agree() -> None:
    y = rules_yaml()
    assert list(y.load_all(render_with_engine("x"))) == list(y.load_all(render_strict("x")))


def test_rule_identity(rule: dict[str, Any]) -> None:
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["kind"] == "PrometheusRule"
    assert rule["metadata"]["name"] == "virt-platform-autopilot-alerts"
    assert rule["metadata"]["namespace"] == "openshift-cnv"
    [group] = rule["spec"]["groups"]
    assert group["interval"] == "30s"


def test_alerts_match_contract(alerts: dict[str, dict[str, Any]]) -> None:
    assert set(alerts) == set(CONTRACT)
    for name, (expr, duration, severity) in CONTRACT.items():
        alert = alerts[name]
        assert alert["expr"] == expr, name
        assert alert.get("for") == duration, name
        assert alert["labels"] == {
            **COMMON_LABELS,
            "severity": severity,
            "operator_health_impact": severity,
        }, name
        ann = alert["annotations"]
        assert set(ann) == {"summary", "description", "runbook_url"}, name
        assert ann["runbook_url"] == f"{RUNBOOK_BASE}{name}.md"


def test_runbooks_exist_for_every_alert(alerts: dict[str, dict[str, Any]]) -> None:
    for name, alert in alerts.items():
        url = alert["annotations"]["runbook_url"]
        path = ROOT / "runbooks" / url.rsplit("/", 1)[-1]
        assert path.is_file(), f"{name}: runbook {path.name} is missing"


def test_catalogue_lists_the_alerts_asset() -> None:
    catalog = GOLDEN / "catalog"
    y = rules_yaml()
    assets = [
        a for f in sorted(catalog.glob("*.yaml")) for a in (y.load(f) or {}).get("assets", [])
    ]
    match = [a for a in assets if a.get("name") == "observability-alerts"]
    assert match, "the catalogue does not list the asset observability-alerts"
    assert match[0]["path"] == TEMPLATE


# -- promtool -------------------------------------------------------------------------


def expand(template: str, labels: dict[str, str], value: str) -> str:
    """Expand the small subset of Prometheus alert templating the rules use."""

    def sub(m: re.Match[str]) -> str:
        return value if m.group(1) == "$value" else labels.get(m.group(2) or "", "")

    return re.sub(r"\{\{ (\$value|\$labels\.(\w+)) \}\}", sub, template)


def expected_alert(
    alert: dict[str, Any], series_labels: dict[str, str], value: str
) -> dict[str, Any]:
    return {
        # Prometheus drops labels with empty values (cluster-scoped: namespace="").
        "exp_labels": {k: v for k, v in {**series_labels, **alert["labels"]}.items() if v},
        "exp_annotations": {
            k: expand(v, series_labels, value) for k, v in alert["annotations"].items()
        },
    }


def series(metric: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{metric}{{{inner}}}"


CM = {"kind": "ConfigMap", "name": "kubevirt-ui-features", "namespace": "openshift-cnv"}
MC = {"kind": "MachineConfig", "name": "90-worker-swap", "namespace": ""}
DEP = {"group": "operator.openshift.io", "version": "v1", "kind": "KubeDescheduler"}
TOMB = {"kind": "ConfigMap", "name": "old-settings", "namespace": "openshift-cnv"}


def promtool_tests(alerts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """promtool unit tests: each alert fires when it should, not before, and resolves."""
    sync, thrash = alerts["VirtPlatformSyncFailed"], alerts["VirtPlatformThrashingDetected"]
    dep, tomb = alerts["VirtPlatformDependencyMissing"], alerts["VirtPlatformTombstoneStuck"]

    def check(name: str, at: str, *firing: dict[str, Any]) -> dict[str, Any]:
        return {"eval_time": at, "alertname": name, "exp_alerts": list(firing)}

    return {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "30s",
        "tests": [
            {
                "name": "SyncFailed fires after 15 minutes at 0 and resolves at 1",
                "interval": "1m",
                # 0 from 0m to 20m, then 1.
                "input_series": [
                    {"series": series("virt_platform_compliance_status", CM),
                     "values": "0x20 1x10"},
                ],
                "alert_rule_test": [
                    check("VirtPlatformSyncFailed", "14m"),
                    check("VirtPlatformSyncFailed", "14m30s"),
                    check("VirtPlatformSyncFailed", "15m", expected_alert(sync, CM, "0")),
                    check("VirtPlatformSyncFailed", "20m", expected_alert(sync, CM, "0")),
                    check("VirtPlatformSyncFailed", "21m"),
                    check("VirtPlatformSyncFailed", "30m"),
                ],
            },
            {
                "name": "SyncFailed: a brief recovery restarts the 15 minutes",
                "interval": "1m",
                # 0 from 0m to 9m, 1 at 10m, 0 again from 11m.
                "input_series": [
                    {"series": series("virt_platform_compliance_status", MC),
                     "values": "0x9 1 0x25"},
                ],
                "alert_rule_test": [
                    check("VirtPlatformSyncFailed", "16m"),
                    check("VirtPlatformSyncFailed", "25m"),
                    check("VirtPlatformSyncFailed", "26m", expected_alert(sync, MC, "0")),
                ],
            },
            {
                "name": "ThrashingDetected fires at once while paused",
                "interval": "1m",
                "input_series": [
                    {"series": series("virt_platform_paused_resources", MC),
                     "values": "1x5 stale"},
                ],
                "alert_rule_test": [
                    check("VirtPlatformThrashingDetected", "0m",
                          expected_alert(thrash, MC, "1")),
                    check("VirtPlatformThrashingDetected", "5m",
                          expected_alert(thrash, MC, "1")),
                    check("VirtPlatformThrashingDetected", "7m"),
                ],
            },
            {
                "name": "DependencyMissing fires after 5 minutes, resolves when the series goes",
                "interval": "1m",
                "input_series": [
                    {"series": series("virt_platform_missing_dependency", DEP),
                     "values": "1x10 stale"},
                ],
                "alert_rule_test": [
                    check("VirtPlatformDependencyMissing", "4m"),
                    check("VirtPlatformDependencyMissing", "4m30s"),
                    check("VirtPlatformDependencyMissing", "5m", expected_alert(dep, DEP, "1")),
                    check("VirtPlatformDependencyMissing", "10m", expected_alert(dep, DEP, "1")),
                    check("VirtPlatformDependencyMissing", "12m"),
                ],
            },
            {
                "name": "TombstoneStuck fires after 30 minutes below 0, never for 0",
                "interval": "1m",
                "input_series": [
                    {"series": series("virt_platform_tombstone_status", TOMB),
                     "values": "-1x20 -2x20 0x10"},
                    {"series": series("virt_platform_tombstone_status", {**TOMB, "name": "gone"}),
                     "values": "0x60"},
                ],
                "alert_rule_test": [
                    check("VirtPlatformTombstoneStuck", "29m"),
                    check("VirtPlatformTombstoneStuck", "30m", expected_alert(tomb, TOMB, "-2")),
                    check("VirtPlatformTombstoneStuck", "40m", expected_alert(tomb, TOMB, "-2")),
                    check("VirtPlatformTombstoneStuck", "42m"),
                    check("VirtPlatformTombstoneStuck", "60m"),
                ],
            },
            {
                "name": "a healthy controller fires nothing",
                "interval": "1m",
                "input_series": [
                    {"series": series("virt_platform_compliance_status", CM), "values": "1x90"},
                    {"series": series("virt_platform_compliance_status", MC), "values": "1x90"},
                    {"series": series("virt_platform_paused_resources", CM), "values": "0x90"},
                    {"series": series("virt_platform_tombstone_status", TOMB), "values": "0x90"},
                    {"series": series("virt_platform_thrashing_total", CM), "values": "0x90"},
                ],
                "alert_rule_test": [
                    check(name, at) for name in CONTRACT for at in ("1m", "16m", "31m", "90m")
                ],
            },
        ],
    }


@pytest.fixture
def rules_dir(tmp_path: Path, rule: dict[str, Any]) -> Path:
    return write_rules(tmp_path, rule)


@needs_promtool
def test_promtool_check_rules(rules_dir: Path) -> None:
    proc = run_promtool("check", "rules", "rules.yaml", cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 rules found" in proc.stdout + proc.stderr


@needs_promtool
def test_promtool_unit_tests(rules_dir: Path, alerts: dict[str, dict[str, Any]]) -> None:
    write_yaml(rules_dir / "alerts_tests.yaml", promtool_tests(alerts))
    proc = run_promtool("test", "rules", "alerts_tests.yaml", cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr


@needs_promtool
def test_promtool_catches_a_wrong_expectation(
    rules_dir: Path, alerts: dict[str, dict[str, Any]]
) -> None:
    """Guard against a vacuous harness: a false claim must fail."""
    tests = promtool_tests(alerts)
    first = tests["tests"][0]["alert_rule_test"]
    first[0]["exp_alerts"] = [expected_alert(alerts["VirtPlatformSyncFailed"], CM, "0")]
    write_yaml(rules_dir / "wrong.yaml", tests)
    proc = run_promtool("test", "rules", "wrong.yaml", cwd=rules_dir)
    assert proc.returncode != 0
