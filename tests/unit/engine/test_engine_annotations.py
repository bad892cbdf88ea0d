"""Annotation keys and the paused/unmanaged checks."""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.engine import overrides
from autopilot.engine.customize import customizations_of


def obj(**annotations: Any) -> dict[str, Any]:
    return {"kind": "ConfigMap", "metadata": {"name": "x", "annotations": annotations}}


def test_keys_are_the_contract_ones() -> None:
    assert overrides.MODE == "platform.kubevirt.io/mode"
    assert overrides.PATCH == "platform.kubevirt.io/patch"
    assert overrides.IGNORE_FIELDS == "platform.kubevirt.io/ignore-fields"
    assert overrides.RECONCILE_PAUSED == "platform.kubevirt.io/reconcile-paused"
    assert overrides.FORCE_RECONCILE == "platform.kubevirt.io/force-reconcile"
    assert overrides.DISABLED_RESOURCES == "platform.kubevirt.io/disabled-resources"
    assert overrides.AUTOPILOT == "platform.kubevirt.io/autopilot"


@pytest.mark.parametrize("value", ["true", "True", " TRUE "])
def test_paused_when_true_in_any_case(value: str) -> None:
    assert overrides.is_paused(obj(**{overrides.RECONCILE_PAUSED: value}))


@pytest.mark.parametrize("value", ["false", "", "yes", "1", "truee"])
def test_other_pause_values_are_not_paused(value: str) -> None:
    assert not overrides.is_paused(obj(**{overrides.RECONCILE_PAUSED: value}))


@pytest.mark.parametrize("value", ["unmanaged", "Unmanaged", " UNMANAGED"])
def test_unmanaged_in_any_case(value: str) -> None:
    assert overrides.is_unmanaged(obj(**{overrides.MODE: value}))


@pytest.mark.parametrize("value", ["managed", "", "un-managed", "off"])
def test_other_modes_are_managed(value: str) -> None:
    assert not overrides.is_unmanaged(obj(**{overrides.MODE: value}))


@pytest.mark.parametrize(
    "thing",
    [None, {}, {"metadata": None}, {"metadata": {"annotations": None}},
     {"metadata": {"annotations": {overrides.MODE: 3}}}, {"metadata": "x"}],
)
def test_malformed_objects_are_neither(thing: Any) -> None:
    assert not overrides.is_paused(thing)
    assert not overrides.is_unmanaged(thing)


def test_customizations_report_presence() -> None:
    assert customizations_of(None) == {"patch": False, "ignore": False, "unmanaged": False}
    live = obj(**{overrides.PATCH: "garbage", overrides.IGNORE_FIELDS: "/a",
                  overrides.MODE: "unmanaged"})
    assert customizations_of(live) == {"patch": True, "ignore": True, "unmanaged": True}
