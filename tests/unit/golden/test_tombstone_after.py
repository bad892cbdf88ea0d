"""Tombstones that wait for their replacement (``after``), and the shipped migration ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopilot.engine.exclusions import Exclusion, is_excluded, parse_disabled_resources
from autopilot.engine.renames import follow_renames
from autopilot.golden.catalog import GoldenState, GoldenStateError, load_golden_state
from autopilot.golden.kinds import rendered_objects
from tests.unit.golden.conftest import GoldenBuilder

LABELS = "labels: {platform.kubevirt.io/managed-by: virt-platform-autopilot}"
OLD = f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: old, namespace: x, {LABELS}}}
"""


def identity(obj: dict[str, object]) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    assert isinstance(meta, dict)
    group = str(obj["apiVersion"]).rpartition("/")[0]
    return (group, str(obj["kind"]), str(meta.get("namespace") or ""), str(meta["name"]))


def test_no_tombstone_names_an_object_we_render(golden: GoldenState) -> None:
    found, _ = rendered_objects(golden)
    rendered = {identity(o) for _, o in found}
    tombstoned = {
        (t.api_version.rpartition("/")[0], t.kind, t.namespace, t.name) for t in golden.tombstones
    }
    assert rendered & tombstoned == set()


def test_every_replacement_is_rendered_by_its_asset(golden: GoldenState) -> None:
    found, _ = rendered_objects(golden)
    by_asset: dict[str, list[dict[str, object]]] = {}
    for asset, obj in found:
        by_asset.setdefault(asset.name, []).append(obj)
    waiting = [t for t in golden.tombstones if t.after is not None]
    assert len(waiting) >= 9
    for tomb in waiting:
        assert tomb.after is not None
        objs = by_asset.get(tomb.after.asset, [])
        meta = [o["metadata"] for o in objs]
        assert any(
            isinstance(m, dict) and tomb.after.matches(
                kind=str(o["kind"]), name=str(m["name"]), namespace=str(m.get("namespace") or ""))
            for o, m in zip(objs, meta, strict=True)
        ), f"{tomb.source}: {tomb.after.describe()} is never rendered"


def test_reference_tombstones_wait_for_a_named_replacement(golden: GoldenState) -> None:
    reference = [t for t in golden.tombstones if t.source.startswith("tombstones/reference")]
    names = {(t.kind, t.name) for t in reference}
    assert {
        ("ClusterRoleBinding", "logging-collector-application"),
        ("ClusterRoleBinding", "logging-collector-infrastructure"),
        ("ClusterRoleBinding", "logging-collector-logs-writer"),
        ("ClusterRoleBinding", "logging-collector-audit"),
        ("PersesDashboard", "descheduler-memory-aware-rebalancing"),
        ("PersesDatasource", "thanos-querier"),
        ("PrometheusRule", "kubevirt-metrics-exporter-alerts"),
        ("ClusterRoleBinding", "kubevirt-metrics-exporter-scc"),
        ("StorageBasedRemediationConfig", "autopilot-recommended-values-detection-only"),
    } <= names
    assert all(t.after is not None for t in reference)


def test_disabled_resources_written_for_old_names_follow_the_rename(golden: GoldenState) -> None:
    rules = follow_renames(parse_disabled_resources(
        "- {kind: PersesDatasource, name: thanos-*, namespace: kubevirt-metrics-exporter}\n"
        "- {kind: ClusterRole, name: kubevirt-metrics-exporter-scc}\n"
    ), golden.tombstones)
    ours = {"apiVersion": "perses.dev/v1alpha2", "kind": "PersesDatasource",
            "metadata": {"name": "kubevirt-metrics-exporter-thanos",
                         "namespace": "kubevirt-metrics-exporter"}}
    assert is_excluded(ours, rules)
    # A rename across kinds is not followed: the SCC itself stays managed.
    scc = {"kind": "SecurityContextConstraints", "metadata": {"name": "kubevirt-metrics-exporter"}}
    assert not is_excluded(scc, rules)
    # Rules that match no old name add nothing; duplicates are not repeated.
    plain = [Exclusion(kind="ConfigMap", name="x")]
    assert follow_renames(plain, golden.tombstones) == plain
    twice = follow_renames(rules, golden.tombstones)
    assert twice == rules


def error_of(root: Path) -> str:
    with pytest.raises(GoldenStateError) as err:
        load_golden_state(root)
    text = str(err.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(("after", "message"), [
    ("after: {asset: nope}", "'after' names unknown asset 'nope'"),
    ("afterr: {asset: demo-cm}", "unknown key(s) afterr"),
    ("after: {asset: demo-cm, when: x}", "'after' takes asset"),
    ("after: {object: {kind: ConfigMap, name: demo}}", "needs the replacing asset's name"),
    ("after: {asset: demo-cm, object: {kind: ConfigMap}}", "'after.object' takes kind, name"),
    ("after: {asset: demo-cm, object: {kind: ConfigMap, name: old, namespace: x}}",
     "names the tombstoned object itself"),
])
def test_bad_after_is_a_load_error_naming_file_and_entry(
    make_golden: GoldenBuilder, after: str, message: str
) -> None:
    root = make_golden({"tombstones/old.yaml": OLD + after + "\n"})
    text = error_of(root)
    assert message in text, text
    assert str(root / "tombstones" / "old.yaml") in text and "ConfigMap old" in text


def test_good_after_loads(make_golden: GoldenBuilder) -> None:
    root = make_golden({"tombstones/old.yaml": OLD + (
        "after:\n  asset: demo-cm\n  object: {kind: ConfigMap, name: demo}\n")})
    [tomb] = load_golden_state(root).tombstones
    assert tomb.after is not None and tomb.after.asset == "demo-cm"
    assert tomb.after.matches(kind="ConfigMap", name="demo", namespace="any")
    assert not tomb.after.matches(kind="ConfigMap", name="other", namespace="any")
    assert tomb.after.describe() == "ConfigMap demo (asset demo-cm)"
