"""Judging a new version of an object against its baseline, without a request."""

from __future__ import annotations

import copy
from typing import Any

from autopilot.controller.baselines import Baselines, Judgement, baseline_of, judge

US = "virt-platform-autopilot"
SPEC = {"f:spec": {"f:selector": {"f:app": {}}, "f:type": {}}}


def mf(manager: str, operation: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "time": "2026-12-01T10:00:00Z",
            "fieldsType": "FieldsV1", "fieldsV1": fields}


def svc(app: str, rv: str, *managed: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "m", "namespace": "ns", "resourceVersion": rv,
                         "managedFields": list(managed)},
            "spec": {"type": "ClusterIP", "selector": {"app": app}}, **extra}


APPLIED = svc("ours", "10", mf(US, "Apply", SPEC))
BASE = baseline_of(fingerprint="d1", obj=APPLIED, wanted_from=APPLIED, manager=US)


def test_status_or_managed_fields_only_change_is_in_sync() -> None:
    status = svc("ours", "11", mf(US, "Apply", SPEC), status={"loadBalancer": {}})
    assert judge(BASE, fingerprint="d1", live=status, manager=US) is Judgement.IN_SYNC
    # Another writer applying the very same value shares the field: nothing to put back.
    shared = svc("ours", "12", mf(US, "Apply", SPEC),
                 mf("helper", "Apply", {"f:spec": {"f:selector": {"f:app": {}}}}))
    assert judge(BASE, fingerprint="d1", live=shared, manager=US) is Judgement.IN_SYNC


def test_a_field_taken_by_another_writer_is_drift() -> None:
    taken = svc("theirs", "11", mf(US, "Apply", {"f:spec": {"f:type": {}}}),
                mf("kubectl-patch", "Update", {"f:spec": {"f:selector": {"f:app": {}}}}))
    assert judge(BASE, fingerprint="d1", live=taken, manager=US) is Judgement.DRIFTED


def test_a_removed_field_is_drift() -> None:
    removed = svc("ours", "11", mf(US, "Apply", {"f:spec": {"f:type": {}}}))
    del removed["spec"]["selector"]
    assert judge(BASE, fingerprint="d1", live=removed, manager=US) is Judgement.DRIFTED


def test_a_change_outside_our_fields_leaves_it_to_the_dry_run() -> None:
    labelled = copy.deepcopy(APPLIED)
    labelled["metadata"]["labels"] = {"team": "x"}
    labelled["metadata"]["resourceVersion"] = "11"
    assert judge(BASE, fingerprint="d1", live=labelled, manager=US) is Judgement.UNSURE
    # Our own field changed under our own manager: ownership says nothing, so unsure.
    ours_changed = svc("other", "12", mf(US, "Apply", SPEC))
    assert judge(BASE, fingerprint="d1", live=ours_changed, manager=US) is Judgement.UNSURE


def test_another_desired_object_or_no_baseline_is_unsure() -> None:
    assert judge(BASE, fingerprint="d2", live=APPLIED, manager=US) is Judgement.UNSURE
    assert judge(None, fingerprint="d1", live=APPLIED, manager=US) is Judgement.UNSURE


def test_baselines_are_bounded_least_recently_used_first() -> None:
    store = Baselines(max_entries=2)
    store.put("a", BASE)
    store.put("b", BASE)
    assert store.get("a") is BASE  # a is now the most recent
    store.put("c", BASE)
    assert store.get("b") is None and store.get("a") is BASE and len(store) == 2
    store.drop("a")
    store.clear()
    assert len(store) == 0
