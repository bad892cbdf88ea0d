"""A kind watched whole as names keeps our objects whole and the others as a sweep view,
and a sweep view is never taken for the live object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autopilot.controller.cache import ClusterCache, managed_informer
from autopilot.controller.summaries import (
    KeepOursWhole,
    is_summary,
    keeps_listing,
    keeps_sweep_view,
    summarise_unlabelled,
    summary_for,
)
from autopilot.kube.discovery import RestMapper
from autopilot.kube.informer import Selection
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.store import Store

OURS = {"platform.kubevirt.io/managed-by": "virt-platform-autopilot"}
SMS = ResourceInfo("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", True)
SUMMARY = Selection(transform=summarise_unlabelled)


def sm(name: str, labels: dict[str, str], **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": name, "namespace": "openshift-cnv", "uid": f"u-{name}",
                         "resourceVersion": "5", "labels": {**labels, "app": "x"},
                         "annotations": {"platform.kubevirt.io/mode": "unmanaged",
                                         **annotations},
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"endpoints": [{"port": "web"}]}}


def test_ours_stays_whole_and_another_is_kept_as_what_the_sweep_reads() -> None:
    ours = sm("ours", OURS)
    assert summarise_unlabelled(ours) is ours
    other = summarise_unlabelled(sm("other", {}, note="long text"))
    assert other == {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                     "metadata": {"name": "other", "namespace": "openshift-cnv",
                                  "uid": "u-other", "resourceVersion": "5", "labels": {},
                                  "annotations": {"platform.kubevirt.io/mode": "unmanaged"}}}
    assert is_summary(SUMMARY, other) and not is_summary(SUMMARY, ours)
    assert not is_summary(Selection(), other)  # a cache keeping all whole holds no summary
    names = Selection(transform=KeepOursWhole(lambda o: {"metadata": {"name": "x"}}))
    assert is_summary(names, {"metadata": {"name": "x"}}) and not is_summary(names, ours)
    rendered = Selection(transform=summarise_unlabelled, whole_keys=frozenset({("", "x")}))
    assert not is_summary(rendered, {"metadata": {"name": "x"}})  # kept whole: a rendered name
    assert is_summary(rendered, {"metadata": {"name": "y"}})
    assert not keeps_sweep_view(names)  # a name alone is not what the sweep reads
    assert keeps_sweep_view(SUMMARY) and keeps_sweep_view(Selection())
    assert not keeps_sweep_view(Selection(transform=lambda o: {"metadata": {}}))
    assert not keeps_sweep_view(Selection(metadata_only=True))


@dataclass
class Cached:
    """What ClusterCache reads of an informer."""

    select: Selection
    store: Store = field(default_factory=Store)
    has_synced: bool = True


def test_the_cache_answers_with_our_object_whole_and_not_with_a_summary() -> None:
    inf = Cached(SUMMARY)
    for obj in (sm("ours", OURS), sm("other", {})):
        inf.store._put(("openshift-cnv", obj["metadata"]["name"]), summarise_unlabelled(obj))
    informers = {managed_informer("monitoring.coreos.com/v1", "ServiceMonitor"): inf}
    cache = ClusterCache(informers=informers, mapper=RestMapper(None),  # type: ignore[arg-type]
                         namespace="openshift-cnv")
    got = cache.cached_object(SMS, namespace="openshift-cnv", name="ours")
    assert got is not None and got["spec"] == {"endpoints": [{"port": "web"}]}
    # Present, but only as a summary: the reconcile must read it whole (adoption read).
    assert cache.cached_object(SMS, namespace="openshift-cnv", name="other") is None
    assert cache.cached_object(SMS, namespace="openshift-cnv", name="absent") is None


def test_a_kind_the_lookups_list_keeps_what_the_listing_reads_beside_the_sweep_view() -> None:
    def records(obj: dict[str, Any]) -> dict[str, Any]:
        return {"metadata": {"name": obj["metadata"]["name"]}, "spec": {"records": ["r"]}}

    summary = summary_for(records)
    select = Selection(transform=summary)
    kept = summary(sm("other", {}))
    assert kept["spec"] == {"records": ["r"]}
    assert kept["metadata"] == summarise_unlabelled(sm("other", {}))["metadata"]
    assert summary(sm("ours", OURS))["spec"] == {"endpoints": [{"port": "web"}]}
    assert keeps_sweep_view(select) and keeps_listing(select, records)
    assert not keeps_listing(SUMMARY, records) and keeps_listing(Selection(), records)
    assert summary_for(None) is summarise_unlabelled
