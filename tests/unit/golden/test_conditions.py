"""Every condition type, including negation and absent data."""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.golden.catalog import Condition
from autopilot.golden.conditions import evaluate, evaluate_all
from autopilot.golden.context import RenderContext


def ctx(
    *,
    annotations: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
    hardware: dict[str, bool] | None = None,
    topology: dict[str, Any] | None = None,
    images: dict[str, str] | None = None,
) -> RenderContext:
    hco: dict[str, Any] = {"metadata": {"name": "kubevirt-hyperconverged"}}
    if annotations is not None:
        hco["metadata"]["annotations"] = annotations
    if spec is not None:
        hco["spec"] = spec
    return RenderContext(
        hco=hco,
        namespace="openshift-cnv",
        hardware=hardware or {},
        topology=topology or {},
        images=images or {},
    )


def test_annotation_value() -> None:
    cond = Condition(type="annotation", key="platform.kubevirt.io/enable-x", value="true")
    assert evaluate(cond, ctx(annotations={"platform.kubevirt.io/enable-x": "true"}))[0]
    ok, reason = evaluate(cond, ctx(annotations={"platform.kubevirt.io/enable-x": "TRUE"}))
    assert not ok and "!= true" in reason
    ok, reason = evaluate(cond, ctx())
    assert not ok and "absent" in reason


def test_annotation_empty_value_means_exists() -> None:
    cond = Condition(type="annotation", key="k")
    assert evaluate(cond, ctx(annotations={"k": ""}))[0]
    assert not evaluate(cond, ctx(annotations={"other": "x"}))[0]


def test_feature_gate_list_and_map() -> None:
    cond = Condition(type="feature-gate", value="CPUManager")
    assert evaluate(cond, ctx(spec={"featureGates": [{"name": "CPUManager"}]}))[0]
    enabled = ctx(spec={"featureGates": [{"name": "CPUManager", "state": "Enabled"}]})
    assert evaluate(cond, enabled)[0]
    disabled = ctx(spec={"featureGates": [{"name": "CPUManager", "state": "Disabled"}]})
    assert not evaluate(cond, disabled)[0]
    assert not evaluate(cond, ctx(spec={"featureGates": [{"name": "Other"}]}))[0]
    assert not evaluate(cond, ctx())[0]
    assert evaluate(cond, ctx(spec={"featureGates": {"CPUManager": True}}))[0]
    assert not evaluate(cond, ctx(spec={"featureGates": {"CPUManager": False}}))[0]


def test_hardware() -> None:
    cond = Condition(type="hardware", detector="gpuPresent")
    assert evaluate(cond, ctx(hardware={"gpuPresent": True}))[0]
    ok, reason = evaluate(cond, ctx())
    assert not ok and "not detected" in reason


@pytest.mark.parametrize(
    ("value", "actual", "expected"),
    [("true", True, True), ("true", False, False), ("false", False, True),
     ("false", True, False), ("", True, True), ("FALSE", False, True)],
)
def test_topology_and_negation(value: str, actual: bool, expected: bool) -> None:
    cond = Condition(type="topology", field="hasSchedulableMasters", value=value)
    assert evaluate(cond, ctx(topology={"hasSchedulableMasters": actual}))[0] is expected


def test_topology_absent_is_false() -> None:
    assert not evaluate(Condition(type="topology", field="isHCP", value="true"), ctx())[0]
    assert evaluate(Condition(type="topology", field="isHCP", value="false"), ctx())[0]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, True),
        ({}, True),
        ({"virtualization": None}, True),
        ({"virtualization": {"ksmConfiguration": None}}, True),
        ({"virtualization": {"ksmConfiguration": {}}}, True),
        ({"virtualization": {"ksmConfiguration": {"nodeLabelSelector": {}}}}, False),
    ],
)
def test_hco_field_unconfigured(spec: dict[str, Any] | None, expected: bool) -> None:
    cond = Condition(type="hco-field-unconfigured", path="spec.virtualization.ksmConfiguration")
    assert evaluate(cond, ctx(spec=spec))[0] is expected


def test_image() -> None:
    cond = Condition(type="image", key="KUBEVIRT_METRICS_EXPORTER")
    assert evaluate(cond, ctx(images={"KUBEVIRT_METRICS_EXPORTER": "quay.io/x:1"}))[0]
    ok, reason = evaluate(cond, ctx())
    assert not ok and "RELATED_IMAGE_KUBEVIRT_METRICS_EXPORTER" in reason


def test_evaluate_all_reports_first_failure() -> None:
    conds = [
        Condition(type="hardware", detector="gpuPresent"),
        Condition(type="annotation", key="a", value="true"),
    ]
    ok, reason = evaluate_all(conds, ctx(hardware={"gpuPresent": True}))
    assert not ok and reason.startswith("annotation a")
    assert evaluate_all([], ctx()) == (True, "")
