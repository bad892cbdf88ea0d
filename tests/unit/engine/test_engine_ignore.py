"""The platform.kubevirt.io/ignore-fields annotation: keep live's state."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from autopilot.engine.overrides import apply_ignore_fields


def desired() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "ns", "labels": {"a": "1"}},
        "data": {"keep": "ours", "drop": "ours", "list": ["d0", "d1"]},
    }


def live() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "cm", "namespace": "ns", "resourceVersion": "7", "uid": "u",
            "labels": {"a": "1", "b/c": "x"},
        },
        "data": {"keep": "theirs", "list": ["l0", "l1", "l2", "l3"], "nested": {"k": {"v": 1}}},
    }


def test_present_in_live_takes_live_value_absent_removes() -> None:
    d, lv = desired(), live()
    snap_d, snap_l = copy.deepcopy(d), copy.deepcopy(lv)
    r = apply_ignore_fields(d, lv, "/data/keep, /data/drop")
    assert r.desired["data"]["keep"] == "theirs"
    assert "drop" not in r.desired["data"]
    assert r.applied == ["/data/keep", "/data/drop"] and r.invalid == []
    assert d == snap_d and lv == snap_l  # inputs untouched


def test_copied_values_are_not_shared_with_live() -> None:
    lv = live()
    r = apply_ignore_fields(desired(), lv, "/data/nested")
    r.desired["data"]["nested"]["k"]["v"] = 99
    assert lv["data"]["nested"]["k"]["v"] == 1


def test_intermediate_maps_are_created() -> None:
    r = apply_ignore_fields(desired(), live(), "/data/nested/k/v")
    assert r.desired["data"]["nested"] == {"k": {"v": 1}}
    d = desired()
    del d["data"]
    r = apply_ignore_fields(d, live(), "/data/keep")
    assert r.desired["data"] == {"keep": "theirs"}  # not the rest of live's data


def test_escaped_pointer() -> None:
    r = apply_ignore_fields(desired(), live(), "/metadata/labels/b~1c")
    assert r.desired["metadata"]["labels"] == {"a": "1", "b/c": "x"}


def test_array_indices() -> None:
    r = apply_ignore_fields(desired(), live(), "/data/list/1")
    assert r.desired["data"]["list"] == ["d0", "l1"]
    # Beyond the end of desired's array: the gap is filled from live.
    r = apply_ignore_fields(desired(), live(), "/data/list/3")
    assert r.desired["data"]["list"] == ["d0", "d1", "l2", "l3"]
    # Whole array.
    r = apply_ignore_fields(desired(), live(), "/data/list")
    assert r.desired["data"]["list"] == ["l0", "l1", "l2", "l3"]


def test_array_removals_use_original_positions() -> None:
    d = desired()
    d["data"]["list"] = ["a", "b", "c", "d", "e"]
    lv = live()
    lv["data"]["list"] = ["x"]
    r = apply_ignore_fields(d, lv, "/data/list/1, /data/list/3")
    assert r.desired["data"]["list"] == ["a", "c", "e"]


def test_array_into_missing_container_mirrors_live_types() -> None:
    d = desired()
    del d["data"]["list"]
    r = apply_ignore_fields(d, live(), "/data/list/1")
    assert r.desired["data"]["list"] == ["l0", "l1"]


def test_type_mismatch_on_the_way_is_replaced_by_live_shape() -> None:
    d = desired()
    d["data"]["nested"] = "scalar"
    r = apply_ignore_fields(d, live(), "/data/nested/k/v")
    assert r.desired["data"]["nested"] == {"k": {"v": 1}}


@pytest.mark.parametrize("bad", ["data/keep", "~1x", "/a~2b", "/metadata", "/metadata/name",
                                 "/kind", "/apiVersion", "/status", "/metadata/resourceVersion",
                                 "/metadata/managedFields/0", "/metadata/uid"])
def test_invalid_pointers_are_reported_and_the_rest_still_apply(bad: str) -> None:
    r = apply_ignore_fields(desired(), live(), f"/data/keep,{bad}")
    assert r.invalid == [bad]
    assert len(r.errors) == 1
    assert r.applied == ["/data/keep"]
    assert r.desired["data"]["keep"] == "theirs"
    assert r.desired["metadata"]["name"] == "cm"
    assert "resourceVersion" not in r.desired["metadata"]


def test_whitespace_and_empty_items() -> None:
    r = apply_ignore_fields(desired(), live(), " , /data/keep ,, ")
    assert r.applied == ["/data/keep"] and r.invalid == []
    r = apply_ignore_fields(desired(), live(), "")
    assert r.applied == [] and r.desired == desired()


def test_missing_live_removes() -> None:
    r = apply_ignore_fields(desired(), None, "/data/keep")
    assert "keep" not in r.desired["data"]


def test_absent_in_both_is_a_no_op() -> None:
    r = apply_ignore_fields(desired(), live(), "/spec/x/y, /data/list/9, /data/keep/deeper")
    assert r.desired == {**desired(), "data": {**desired()["data"]}}
    assert r.invalid == []
