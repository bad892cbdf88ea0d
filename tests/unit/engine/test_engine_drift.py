"""Drift comparison, desired fingerprints and the verdict cache."""

from __future__ import annotations

import copy
from typing import Any

from autopilot.engine.drift import (
    VerdictCache,
    desired_fingerprint,
    diff_paths,
    normalise_for_compare,
)
from autopilot.kube.resources import ObjectRef


def live() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "cm",
            "namespace": "ns",
            "uid": "1",
            "resourceVersion": "10",
            "generation": 3,
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "managedFields": [{"manager": "x"}],
            "labels": {"a": "1"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        },
        "data": {"k": "v", "list": [1, 2], "flag": True},
        "status": {"phase": "x"},
    }


def test_normalise_drops_status_and_server_metadata_only() -> None:
    n = normalise_for_compare(live())
    assert "status" not in n
    assert n["metadata"] == {
        "name": "cm",
        "namespace": "ns",
        "labels": {"a": "1"},
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
    }
    assert n["data"] == live()["data"]


def test_in_sync_despite_server_managed_differences() -> None:
    dry = live()
    dry["metadata"].update(resourceVersion="11", generation=4, managedFields=[])
    dry["status"] = {"phase": "other"}
    assert diff_paths(dry, live()) == []


def test_empty_and_absent_metadata_maps_are_equal() -> None:
    a, b = live(), live()
    a["metadata"]["finalizers"] = []
    b["metadata"].pop("labels")
    a["metadata"]["labels"] = {}
    assert diff_paths(a, b) == []


def test_reports_changed_added_removed_paths() -> None:
    dry = live()
    dry["data"]["k"] = "changed"
    dry["data"]["new"] = "x"
    del dry["data"]["flag"]
    dry["metadata"]["labels"]["example.com/x"] = "1"
    assert diff_paths(dry, live()) == [
        "/data/flag",
        "/data/k",
        "/data/new",
        "/metadata/labels/example.com~1x",
    ]


def test_lists_and_types() -> None:
    dry = live()
    dry["data"]["list"] = [1, 3]
    assert diff_paths(dry, live()) == ["/data/list/1"]
    dry["data"]["list"] = [1, 2, 3]
    assert diff_paths(dry, live()) == ["/data/list"]
    dry = live()
    dry["data"]["flag"] = 1  # True == 1 in Python, not in JSON
    assert diff_paths(dry, live()) == ["/data/flag"]
    dry["data"]["flag"] = {"x": 1}
    assert diff_paths(dry, live()) == ["/data/flag"]


def test_diff_does_not_mutate_inputs() -> None:
    a, b = live(), live()
    diff_paths(a, b)
    assert a == live() and b == live()


def test_fingerprint_is_stable_and_sensitive() -> None:
    a = live()
    b = copy.deepcopy(a)
    b["metadata"] = dict(reversed(list(b["metadata"].items())))
    assert desired_fingerprint(a) == desired_fingerprint(b)
    b["data"]["k"] = "w"
    assert desired_fingerprint(a) != desired_fingerprint(b)
    assert len(desired_fingerprint({"x": object()})) == 64  # non-JSON values do not crash
    assert len(desired_fingerprint({"d": {1: "a", "b": "c"}})) == 64  # nor mixed key types


def test_verdict_cache() -> None:
    ref = ObjectRef("v1", "ConfigMap", "cm", "ns")
    other = ObjectRef("v1", "ConfigMap", "cm2", "ns")
    cache = VerdictCache()
    assert cache.get(ref, "f", "1") is None
    cache.put(ref, "f", "1")
    assert cache.get(ref, "f", "1") is True
    assert cache.get(ref, "g", "1") is None  # desired changed
    assert cache.get(ref, "f", "2") is None  # live changed
    assert cache.get(other, "f", "1") is None
    cache.put(ref, "f", "2", in_sync=False)
    assert cache.get(ref, "f", "2") is False
    assert cache.get(ref, "f", "1") is None
    cache.invalidate(ref)
    assert cache.get(ref, "f", "2") is None
    cache.put(ref, "f", "")  # no resourceVersion: never cached
    assert cache.get(ref, "f", "") is None and len(cache) == 0
    cache.put(ref, "f", "1")
    cache.clear()
    assert len(cache) == 0


def test_verdict_cache_is_bounded_lru() -> None:
    cache = VerdictCache(max_entries=3)
    for i in range(3):
        cache.put(i, "f", "1")
    assert cache.get(0, "f", "1")  # 0 becomes most recent
    cache.put(3, "f", "1")
    assert len(cache) == 3
    assert cache.get(1, "f", "1") is None
    assert cache.get(0, "f", "1") and cache.get(3, "f", "1")
