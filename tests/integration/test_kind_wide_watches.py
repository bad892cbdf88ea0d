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

from tests.support.feature_objects import EXPORTER_IMAGE
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


EXPORTER = "kubevirt-metrics-exporter"  # the exporter's ServiceAccount and its namespace
EXPORTER_ON = {"platform.kubevirt.io/autopilot": "true",
               "platform.kubevirt.io/enable-kubevirt-metrics-exporter": "true"}


def service_account(name: str, namespace: str, **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace, "annotations": annotations}}


@pytest.mark.timeout(150)
def test_the_service_accounts_share_one_watch_that_keeps_them_alone(
        platform: Platform, controller: Any, cluster: Any) -> None:
    """ServiceAccount is declared by name, and the golden state renders two in two
    namespaces: one watch of every ServiceAccount, whose cache keeps those two alone. The
    exporter's, made before the controller and handed over, is read from that cache and
    left alone; the other accounts are never cached, read or written."""
    platform.install("PrometheusRule", "PodMonitor", "SecurityContextConstraints",
                     "PersesDashboard", "PersesDatasource")
    others = [("someone-elses", EXPORTER), ("builder", "default")]
    for namespace in (EXPORTER, "default"):
        platform.ensure_namespace(namespace)
    for body in (service_account(EXPORTER, EXPORTER, **{"platform.kubevirt.io/mode": "unmanaged"}),
                 *(service_account(name, ns) for name, ns in others)):
        ns = body["metadata"]["namespace"]
        status, obj = cluster.api("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", body=body)
        assert status == 201, obj
    platform.create_hco(EXPORTER_ON)
    before = cluster.request_counts(user_agent=UA)
    c = controller(env={"RELATED_IMAGE_KUBEVIRT_METRICS_EXPORTER": EXPORTER_IMAGE})

    eventually_sync(lambda: c.metric(INFO, kind="ServiceAccount", name=EXPORTER,
                                     namespace=EXPORTER, type="unmanaged") == 1, timeout=60,
                    what="the pre-existing ServiceAccount seen as unmanaged")
    informer = "managed/v1/ServiceAccount"
    assert [line["informer"] for line in c.log_lines("watching")
            if "ServiceAccount" in line["informer"]] == [informer]
    # Every account of the cluster was listed; the cache kept the rendered one there.
    assert [line["objects"] for line in c.log_lines("cache synced", kind=informer)] == [1]
    served = cluster.request_counts(user_agent=UA) - before
    reads = {f"{verb} {resource}": n for (verb, resource, _), n in served.items()
             if resource == "serviceaccounts"}
    assert reads == {"watch serviceaccounts": 1}, reads
    for name, ns in [(EXPORTER, EXPORTER), *others]:
        live = platform.get(f"/api/v1/namespaces/{ns}/serviceaccounts/{name}")
        assert live is not None and "platform.kubevirt.io/managed-by" not in labels_of(live)
    assert not c.log_lines("successfully applied", kind="ServiceAccount")
