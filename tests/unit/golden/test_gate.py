"""The activation annotation."""

from __future__ import annotations

import pytest

from autopilot.golden.catalog import Asset
from autopilot.golden.gate import parse_activation

A = Asset(name="swap-worker-machineconfig", path="x", group="swap")
B = Asset(name="other", path="y")


@pytest.mark.parametrize("value", [None, "", "  ", "false", "FALSE", "False", ",", " , "])
def test_idle(value: str | None) -> None:
    act = parse_activation(value)
    assert act.idle and not act.allows(A)


@pytest.mark.parametrize("value", ["true", "TRUE", " True "])
def test_all(value: str) -> None:
    act = parse_activation(value)
    assert act.mode == "all" and act.allows(A) and act.allows(B)


def test_allowlist_by_name_and_group_with_unknown() -> None:
    act = parse_activation(" swap , ghost,other ", known={"swap", "other", "x"})
    assert act.mode == "list"
    assert act.allows(A)  # by group
    assert act.allows(B)  # by name
    assert act.unknown == ("ghost",)
    only = parse_activation("swap-worker-machineconfig")
    assert only.allows(A) and not only.allows(B) and only.unknown == ()
