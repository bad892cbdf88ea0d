"""The catalogue loader: the shipped golden state loads; broken ones fail in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState, GoldenStateError, load_golden_state
from autopilot.golden.kinds import UnrenderableAsset, one_namespace_of
from tests.unit.golden.conftest import GoldenBuilder


def test_shipped_golden_state_loads(golden: GoldenState) -> None:
    names = [a.name for a in golden.assets]
    assert names[0] == "hco-golden-config"  # the HCO asset has the lowest order
    assert len(names) == len(set(names))
    orders = [(a.order, a.name) for a in golden.assets]
    assert orders == sorted(orders)
    assert golden.version
    for asset in golden.assets:
        assert asset.feature or asset.name in golden.excluded_assets
    kinds = {(t.kind, t.name) for t in golden.tombstones}
    assert {("UIPlugin", "kubevirt-plugin"), ("NodeHealthCheck", "virt-node-health-check")} <= kinds


def test_minimal_golden_state(make_golden: GoldenBuilder) -> None:
    gs = load_golden_state(make_golden())
    assert gs.version == "1.2.3"
    asset = gs.asset("demo-cm")
    assert asset.feature == "demo" and asset.install == "always" and asset.order == 5
    assert gs.feature_assets(gs.feature("demo")) == (asset,)
    with pytest.raises(KeyError):
        gs.asset("nope")


def _error(root: Path) -> str:
    with pytest.raises(GoldenStateError) as info:
        load_golden_state(root)
    message = str(info.value)
    assert "\n" not in message
    return message


CAT = "catalog/demo.yaml"


@pytest.mark.parametrize(
    ("catalog", "expected"),
    [
        (
            """
            features: [{name: demo, maturity: TP, assets: [demo-cm]}]
            assets:
              - name: demo-cm
                path: assets/demo/cm.yaml.j2
                conditions: [{type: moon-phase, value: full}]
            """,
            "unknown condition type 'moon-phase'",
        ),
        (
            """
            features: [{name: demo, maturity: TP, assets: [demo-cm]}]
            assets:
              - {name: demo-cm, path: assets/demo/cm.yaml.j2, install: sometimes}
            """,
            "install must be one of always, opt-in",
        ),
        (
            """
            features: [{name: demo, maturity: TP, assets: [demo-cm]}]
            assets:
              - {name: demo-cm, path: assets/demo/cm.yaml.j2}
              - {name: demo-cm, path: assets/demo/cm.yaml.j2}
            """,
            "asset 'demo-cm': duplicate",
        ),
        (
            """
            features: [{name: demo, maturity: TP, assets: []}]
            assets:
              - {name: demo-cm, path: assets/demo/cm.yaml.j2}
            """,
            "asset 'demo-cm': belongs to no feature",
        ),
        (
            """
            features: [{name: demo, maturity: TP, assets: [demo-cm], requires: [ghost]}]
            assets:
              - {name: demo-cm, path: assets/demo/cm.yaml.j2}
            """,
            "unknown feature 'ghost'",
        ),
        (
            """
            features: [{name: demo, maturity: TP, assets: [demo-cm]}]
            assets:
              - {name: demo-cm, path: assets/demo/cm.yaml.j2, colour: blue}
            """,
            "asset 'demo-cm': unknown key(s) colour",
        ),
        (
            """
            features: [{name: demo, maturity: TP, assets: [demo-cm], colour: blue}]
            assets:
              - {name: demo-cm, path: assets/demo/cm.yaml.j2}
            """,
            "feature 'demo': unknown key(s) colour",
        ),
        (
            """
            features: [{name: demo, maturity: TP, assets: [demo-cm]}]
            assets:
              - {path: assets/demo/cm.yaml.j2}
            """,
            "asset without a 'name'",
        ),
        (
            """
            features: [demo]
            assets:
              - {name: demo-cm, path: assets/demo/cm.yaml.j2}
            """,
            "a feature entry must be a mapping",
        ),
        (
            """
            features: [{name: demo, maturity: TP, assets: [demo-cm]}]
            assets: [demo-cm]
            """,
            "an asset entry must be a mapping",
        ),
        (
            """
            features: [{name: demo, maturity: TP, assets: [demo-cm]}]
            assets:
              - name: demo-cm
                path: assets/demo/cm.yaml.j2
                conditions: [{type: annotation}]
            """,
            "condition 'annotation' needs key",
        ),
        (
            """
            features: [{name: demo, maturity: TP, assets: [demo-cm]}]
            assets:
              - name: demo-cm
                path: assets/demo/cm.yaml.j2
                conditions: [{type: hardware, detector: quantumDevicesPresent}]
            """,
            "unknown hardware detector 'quantumDevicesPresent'",
        ),
        (
            """
            features: [{name: demo, assets: [demo-cm]}]
            assets:
              - name: demo-cm
                path: assets/demo/cm.yaml.j2
                install: opt-in
                conditions: [{type: annotation, key: a, value: "true"}]
            """,
            "maturity is required",
        ),
        (
            """
            features: [{name: demo, maturity: TP, assets: [demo-cm]}]
            assets:
              - {name: demo-cm, path: assets/demo/missing.yaml.j2}
            """,
            "missing.yaml.j2 does not exist",
        ),
        (
            """
            features: [{name: demo, maturity: TP, assets: [demo-cm]
            assets: [
            """,
            "invalid YAML",
        ),
    ],
    ids=[
        "unknown-condition",
        "bad-install",
        "duplicate",
        "orphan",
        "unknown-feature",
        "unknown-key",
        "unknown-feature-key",
        "nameless-asset",
        "feature-not-a-mapping",
        "asset-not-a-mapping",
        "condition-field",
        "detector",
        "maturity",
        "missing-template",
        "bad-yaml",
    ],
)
def test_broken_catalogue_names_file_and_entry(
    make_golden: GoldenBuilder, catalog: str, expected: str
) -> None:
    message = _error(make_golden({CAT: catalog}))
    assert expected in message
    assert CAT in message


def test_error_carries_line_number(make_golden: GoldenBuilder) -> None:
    catalog = """\
    features: [{name: demo, maturity: TP, assets: [demo-cm]}]
    assets:
      - name: ok-one
        path: assets/demo/cm.yaml.j2
      - name: demo-cm
        path: assets/demo/cm.yaml.j2
        conditions:
          - {type: nope}
    excluded_assets: [ok-one]
    """
    message = _error(make_golden({CAT: catalog}))
    assert f"{CAT}:8:" in message


def test_template_syntax_error_names_template_and_line(make_golden: GoldenBuilder) -> None:
    root = make_golden({"assets/demo/cm.yaml.j2": "a: 1\nb: {{ oops(\n"})
    message = _error(root)
    assert "assets/demo/cm.yaml.j2:2" in message
    assert "template syntax error" in message and "demo-cm" in message


def test_tombstone_without_ownership_label(make_golden: GoldenBuilder) -> None:
    root = make_golden(
        {
            "tombstones/old.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: old, namespace: x}
            """
        }
    )
    message = _error(root)
    assert "tombstones/old.yaml" in message
    assert "platform.kubevirt.io/managed-by" in message


def test_missing_version_and_catalog(tmp_path: Path, make_golden: GoldenBuilder) -> None:
    assert "catalog" in _error(tmp_path / "nowhere")
    root = make_golden()
    (root / "VERSION").unlink()
    assert "VERSION" in _error(root)


def test_excluded_assets_are_allowed(make_golden: GoldenBuilder) -> None:
    catalog = """
    features: [{name: demo, maturity: TP, assets: [demo-cm]}]
    assets:
      - {name: demo-cm, path: assets/demo/cm.yaml.j2}
      - {name: spare, path: assets/demo/cm.yaml.j2, group: extras}
    excluded_assets: [spare]
    """
    gs = load_golden_state(make_golden({CAT: catalog}))
    assert gs.asset("spare").feature == ""
    assert gs.assets_by_group("extras") == (gs.asset("spare"),)


def test_groups_assign_assets_to_features(make_golden: GoldenBuilder) -> None:
    catalog = """
    features: [{name: demo, maturity: GA, groups: [g1]}]
    assets:
      - {name: demo-cm, group: g1, path: assets/demo/cm.yaml.j2}
    """
    gs = load_golden_state(make_golden({CAT: catalog}))
    assert gs.asset("demo-cm").feature == "demo"


def test_few_per_cluster_kinds_are_declared_by_group_and_kind(make_golden: GoldenBuilder) -> None:
    gs = load_golden_state(make_golden({"catalog/kinds.yaml": """
        few_per_cluster:
          - {group: metallb.io, kind: MetalLB}
          - {group: "", kind: Secret}
        """}))
    assert gs.few_per_cluster == {("metallb.io", "MetalLB"), ("", "Secret")}
    message = _error(make_golden({"catalog/kinds.yaml": """
        few_per_cluster: [{kind: MetalLB}]
        """}))
    assert "catalog/kinds.yaml:2:" in message and "few_per_cluster" in message
    assert "{group: <API group>, kind: <Kind>}" in message


def test_hundreds_per_cluster_kinds_are_declared_once_by_group_and_kind(
        make_golden: GoldenBuilder) -> None:
    gs = load_golden_state(make_golden({"catalog/kinds.yaml": """
        hundreds_per_cluster:
          - {group: monitoring.coreos.com, kind: ServiceMonitor}
        """}))
    assert gs.hundreds_per_cluster == {("monitoring.coreos.com", "ServiceMonitor")}
    assert gs.few_per_cluster == frozenset()
    message = _error(make_golden({"catalog/kinds.yaml": """
        hundreds_per_cluster: {group: apps, kind: DaemonSet}
        """}))
    assert "catalog/kinds.yaml:2:" in message and "'hundreds_per_cluster' must be a list" in message
    message = _error(make_golden({"catalog/kinds.yaml": """
        few_per_cluster: [{group: apps, kind: DaemonSet}]
        hundreds_per_cluster: [{group: apps, kind: DaemonSet}]
        """}))
    assert "catalog/kinds.yaml:3:" in message, message
    assert "declared both few_per_cluster and hundreds_per_cluster: DaemonSet.apps" in message


def test_a_kind_declared_in_one_namespace_must_be_rendered_into_exactly_one(
        make_golden: GoldenBuilder) -> None:
    gs = load_golden_state(make_golden({"catalog/kinds.yaml": """
        in_one_namespace: [{group: "", kind: Service}]
        """}))
    assert gs.in_one_namespace == {("", "Service")}

    def svc(namespace: str) -> tuple[Any, dict[str, Any]]:
        return None, {"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": "s", "namespace": namespace}}

    assert one_namespace_of(gs, [svc("a"), svc("a")]) == {("", "Service"): "a"}
    for objects, where in (([svc("a"), svc("b")], "a, b"), ([], "nowhere"),
                           ([svc("")], "(cluster scope)")):
        with pytest.raises(UnrenderableAsset) as caught:
            one_namespace_of(gs, objects)
        assert str(caught.value) == (
            f"Service is declared in_one_namespace but is rendered into {where}"), caught.value
    message = _error(make_golden({"catalog/kinds.yaml": """
        hundreds_per_cluster: [{group: "", kind: Service}]
        in_one_namespace: [{group: "", kind: Service}]
        """}))
    assert "declared both hundreds_per_cluster and in_one_namespace: Service" in message


def test_by_name_kinds_are_declared_once(make_golden: GoldenBuilder) -> None:
    gs = load_golden_state(make_golden({"catalog/kinds.yaml": """
        by_name: [{group: "", kind: ConfigMap}]
        """}))
    assert gs.by_name == {("", "ConfigMap")}
    message = _error(make_golden({"catalog/kinds.yaml": """
        few_per_cluster: [{group: "", kind: ConfigMap}]
        by_name: [{group: "", kind: ConfigMap}]
        """}))
    assert "catalog/kinds.yaml:3:" in message, message
    assert "declared both few_per_cluster and by_name: ConfigMap" in message
