"""A kind the golden state declares few per cluster is watched whole, and still adopted safely.

MetalLB is one: its managed watch selects no label, so the cache answers the
adoption read (no census, no GET) and the kind is watched once. An unlabelled
MetalLB with the managed name that existed before the controller, handed over
with ``mode: unmanaged`` or paused, is still read before any write and left alone; another
MetalLB of the cluster is cached but never reconciled. Counted by the server
(kubesim's own count, the real server's audit log).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.platform import Platform, annotations_of, labels_of
from tests.support.wait import eventually_sync

UA = "virt-platform-autopilot"
NS = "metallb-system"
METALLBS = f"/apis/metallb.io/v1beta1/namespaces/{NS}/metallbs"
MANAGED = f"{METALLBS}/metallb"
ON = {"platform.kubevirt.io/autopilot": "true", "platform.kubevirt.io/enable-metallb": "true"}
INFO = "virt_platform_customization_info"
PAUSED = "virt_platform_paused_resources"
# The annotation handing the object over, and the series that says it was respected.
HANDED_OVER = {
    "unmanaged": (("platform.kubevirt.io/mode", "unmanaged"), (INFO, {"type": "unmanaged"})),
    "paused": (("platform.kubevirt.io/reconcile-paused", "true"), (PAUSED, {})),
}


def metallb(name: str, **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "metallb.io/v1beta1", "kind": "MetalLB",
            "metadata": {"name": name, "namespace": NS, "annotations": annotations},
            "spec": {"logLevel": "debug"}}


@pytest.mark.timeout(150)
@pytest.mark.parametrize("how", sorted(HANDED_OVER))
def test_an_unlabelled_object_of_a_kind_watched_whole_is_read_and_respected(
        platform: Platform, controller: Any, cluster: Any, how: str) -> None:
    (key, value), (series, labels) = HANDED_OVER[how]
    platform.install("MetalLB")
    platform.ensure_namespace(NS)
    for body in (metallb("metallb", **{key: value}), metallb("someone-elses")):
        status, obj = cluster.api("POST", METALLBS, body=body)
        assert status == 201, obj
    platform.create_hco(ON)
    before = cluster.request_counts(user_agent=UA)
    c = controller()

    eventually_sync(lambda: c.metric(series, kind="MetalLB", name="metallb", namespace=NS,
                                     **labels) == 1, timeout=60,
                    what=f"the pre-existing MetalLB seen as {how}")
    assert [line["informer"] for line in c.log_lines("watching")
            if "MetalLB" in line["informer"]] == ["managed/metallb.io/v1beta1/MetalLB"]
    served = cluster.request_counts(user_agent=UA) - before
    reads = {f"{verb} {resource}": n for (verb, resource, _), n in served.items()
             if resource == "metallbs"}
    # Read from the kind-wide cache: one watch, no census, no GET, and no write.
    assert reads == {"watch metallbs": 1}, reads
    for name in ("metallb", "someone-elses"):
        live = platform.get(f"{METALLBS}/{name}")
        assert live is not None and live["spec"]["logLevel"] == "debug", live
        assert "platform.kubevirt.io/managed-by" not in labels_of(live)
    assert annotations_of(platform.get(MANAGED) or {}).get(key) == value
    assert not c.log_lines("successfully applied", kind="MetalLB")


SERVICEMONITORS = "/apis/monitoring.coreos.com/v1/namespaces/openshift-cnv/servicemonitors"
SERVICEMONITOR = "virt-platform-autopilot-metrics"  # the observability asset's


def servicemonitor(name: str, **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": name, "namespace": "openshift-cnv",
                         "annotations": annotations},
            "spec": {"selector": {"matchLabels": {"app": "someone"}},
                     "endpoints": [{"port": "web", "interval": "60s"}]}}


@pytest.mark.timeout(150)
@pytest.mark.parametrize("how", sorted(HANDED_OVER))
def test_an_unlabelled_object_of_a_kind_watched_whole_as_names_is_read_and_respected(
        platform: Platform, controller: Any, cluster: Any, how: str) -> None:
    """ServiceMonitor is declared hundreds per cluster: one kind-wide watch, objects not
    ours cached as their names but for those with a name the golden state renders. The
    pre-existing one with the managed name is read from that cache and left alone; the
    other is never read or written."""
    (key, value), (series, labels) = HANDED_OVER[how]
    platform.install("ServiceMonitor")
    platform.ensure_namespace("openshift-cnv")
    for body in (servicemonitor(SERVICEMONITOR, **{key: value}), servicemonitor("another")):
        status, obj = cluster.api("POST", SERVICEMONITORS, body=body)
        assert status == 201, obj
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    before = cluster.request_counts(user_agent=UA)
    c = controller()

    eventually_sync(lambda: c.metric(series, kind="ServiceMonitor", name=SERVICEMONITOR,
                                     namespace="openshift-cnv", **labels) == 1, timeout=60,
                    what=f"the pre-existing ServiceMonitor seen as {how}")
    assert [line["informer"] for line in c.log_lines("watching")
            if "ServiceMonitor" in line["informer"]] == [
        "managed/monitoring.coreos.com/v1/ServiceMonitor"]
    served = cluster.request_counts(user_agent=UA) - before
    reads = {f"{verb} {resource}": n for (verb, resource, _), n in served.items()
             if resource == "servicemonitors"}
    # One watch, no census, no GET (the managed name's object is kept whole by the
    # watch), nothing written.
    assert reads == {"watch servicemonitors": 1}, reads
    for name in (SERVICEMONITOR, "another"):
        live = platform.get(f"{SERVICEMONITORS}/{name}")
        assert live is not None and live["spec"]["endpoints"][0]["port"] == "web", live
        assert "platform.kubevirt.io/managed-by" not in labels_of(live)
    assert annotations_of(platform.get(f"{SERVICEMONITORS}/{SERVICEMONITOR}") or {}
                          ).get(key) == value
    assert not c.log_lines("successfully applied", kind="ServiceMonitor")
