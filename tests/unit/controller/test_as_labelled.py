"""A kind watched whole is heard by the reconcile trigger as a label-selected watch shows it."""

from __future__ import annotations

from typing import Any

from autopilot.controller.watches import as_labelled

OURS = {"platform.kubevirt.io/managed-by": "virt-platform-autopilot"}


def obj(rv: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "metallb.io/v1beta1", "kind": "MetalLB",
            "metadata": {"name": "metallb", "namespace": "metallb-system",
                         "resourceVersion": rv, "labels": labels or {}}}


def test_unlabelled_objects_are_not_heard_and_the_label_moving_adds_or_deletes() -> None:
    heard: list[tuple[str, str, str | None]] = []
    handler = as_labelled(lambda event, o, old: heard.append((
        event, o["metadata"]["resourceVersion"],
        None if old is None else old["metadata"]["resourceVersion"])))
    plain1, plain2 = obj("1"), obj("2")
    handler("ADDED", plain1, None)
    handler("MODIFIED", plain2, plain1)
    assert heard == []  # an object without our label causes no work
    labelled3 = obj("3", OURS)
    handler("MODIFIED", labelled3, plain2)
    labelled4 = obj("4", OURS)
    handler("MODIFIED", labelled4, labelled3)
    plain5 = obj("5")
    handler("MODIFIED", plain5, labelled4)
    handler("DELETED", plain5, plain5)
    labelled6 = obj("6", OURS)
    handler("ADDED", labelled6, None)
    handler("DELETED", labelled6, labelled6)
    assert heard == [("ADDED", "3", None), ("MODIFIED", "4", "3"), ("DELETED", "5", "4"),
                     ("ADDED", "6", None), ("DELETED", "6", "6")]
