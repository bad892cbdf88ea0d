"""An informer reducing its objects keeps the ones named in ``whole_keys`` as sent, and
a reader asking coverage finds those whole there (no watch or read of their own)."""

from __future__ import annotations

from typing import Any

from autopilot.kube.cachefeed import CacheFeed, Selection
from autopilot.kube.resources import ResourceInfo
from autopilot.runtime.coverage import Cover, covering

CRDS = ResourceInfo("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
                    "customresourcedefinitions", False)


def crd(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": "3"},
            "spec": {"versions": [{"name": "v1", "schema": {"big": True}}]}}


def names_only(obj: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": obj["metadata"]["name"]}}


def test_named_objects_stay_whole_and_the_others_are_reduced() -> None:
    feed = CacheFeed(CRDS, select=Selection(transform=names_only,
                                            whole_keys=frozenset({("", "kept")})),
                     metrics=None, name="crds")
    for name in ("kept", "other"):
        feed._handle({"type": "ADDED", "object": crd(name)})
    kept, other = feed.store.get(None, "kept"), feed.store.get(None, "other")
    assert kept is not None and kept["spec"]["versions"][0]["schema"] == {"big": True}
    assert other == {"metadata": {"name": "other"}}


def test_coverage_says_whole_for_a_named_object_only() -> None:
    class Listed(CacheFeed):
        has_synced = True

    select = Selection(transform=names_only, whole_keys=frozenset({("", "kept")}))
    feed = Listed(CRDS, select=select, metrics=None, name="crds")
    informers = {"crds": feed}

    class Set:
        def items(self) -> Any:
            return informers.items()

    def cover(name: str) -> Cover | None:
        return covering(Set(), CRDS, namespace="", name=name)  # type: ignore[arg-type]

    kept, other = cover("kept"), cover("other")
    assert kept is not None and kept.whole
    assert other is not None and not other.whole
    assert covering(Set(), CRDS, namespace="", name="other", whole=True) is None  # type: ignore[arg-type]
    metadata_only = Listed(CRDS, select=Selection(
        metadata_only=True, whole_keys=frozenset({("", "kept")})), metrics=None, name="m")
    informers.clear()
    informers["m"] = metadata_only
    found = cover("kept")
    assert found is not None and not found.whole  # metadata alone is never whole
