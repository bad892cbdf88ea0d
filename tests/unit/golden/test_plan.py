"""The shared plan: gate, opt-in, conditions, render results and reasons."""

from __future__ import annotations

from pathlib import Path

from autopilot.golden.catalog import GoldenState, load_golden_state
from autopilot.golden.context import RenderContext
from autopilot.golden.gate import activation_for, parse_activation
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.plan import plan_all, plan_asset
from tests.support.golden_files import MINIMAL_TEMPLATE
from tests.unit.golden.conftest import GoldenBuilder

CATALOG = """
features:
  - {name: demo, maturity: TP, switch: enable-demo, groups: [g]}
assets:
  - {name: always-on, group: g, path: assets/demo/cm.yaml.j2, order: 1}
  - {name: opt-in-bare, group: g, path: assets/demo/cm.yaml.j2, install: opt-in}
  - name: opt-in-annotated
    group: g
    path: assets/demo/cm.yaml.j2
    install: opt-in
    conditions: [{type: annotation, key: platform.kubevirt.io/enable-demo, value: "true"}]
  - {name: empty, group: g, path: assets/demo/empty.yaml.j2}
  - {name: broken, group: g, path: assets/demo/broken.yaml.j2}
"""


def _golden(make_golden: GoldenBuilder) -> GoldenState:
    root: Path = make_golden(
        {
            "catalog/demo.yaml": CATALOG,
            "assets/demo/cm.yaml.j2": MINIMAL_TEMPLATE,
            "assets/demo/empty.yaml.j2": "{# nothing to apply #}\n",
            "assets/demo/broken.yaml.j2": "x: {{ undefined_thing }}\n",
        }
    )
    return load_golden_state(root)


def _ctx(annotations: dict[str, str]) -> RenderContext:
    return RenderContext(hco={"metadata": {"annotations": annotations}}, namespace="ns")


def test_plan_reasons(make_golden: GoldenBuilder) -> None:
    gs = _golden(make_golden)
    ctx = _ctx({"platform.kubevirt.io/autopilot": "true"})
    plans = {p.asset.name: p for p in plan_all(
        gs, ctx, activation=activation_for(ctx.hco, gs), lookups=OfflineLookups())}
    assert next(iter(plans)) == "always-on"
    assert plans["always-on"].included and plans["always-on"].objects[0]["kind"] == "ConfigMap"
    assert not plans["opt-in-bare"].included
    assert plans["opt-in-bare"].reason == "opt-in without conditions"
    assert not plans["opt-in-annotated"].included
    assert plans["opt-in-annotated"].reason.startswith(
        "condition annotation platform.kubevirt.io/enable-demo != true")
    assert not plans["empty"].included and "not applicable" in plans["empty"].reason
    broken = plans["broken"]
    assert broken.included and broken.error and "undefined_thing" in broken.error
    assert broken.objects == []


def test_opt_in_with_condition_met(make_golden: GoldenBuilder) -> None:
    gs = _golden(make_golden)
    ctx = _ctx({"platform.kubevirt.io/enable-demo": "true"})
    plan = plan_asset(gs, gs.asset("opt-in-annotated"), ctx,
                      activation=parse_activation("true"), lookups=OfflineLookups())
    assert plan.included and plan.objects and plan.error is None
    assert "enable-demo == true" in plan.reason


def test_idle_and_allowlist(make_golden: GoldenBuilder) -> None:
    gs = _golden(make_golden)
    ctx = _ctx({})
    idle = plan_asset(gs, gs.asset("always-on"), ctx, activation=parse_activation(None),
                      lookups=OfflineLookups())
    assert not idle.included and idle.reason == "autopilot disabled"
    allow = parse_activation("empty")
    plans = plan_all(gs, ctx, activation=allow, lookups=OfflineLookups())
    reasons = {p.asset.name: p.reason for p in plans}
    assert reasons["always-on"] == "not in allowlist"
    by_group = plan_all(gs, ctx, activation=parse_activation("g"), lookups=OfflineLookups())
    assert next(p for p in by_group if p.asset.name == "always-on").included
