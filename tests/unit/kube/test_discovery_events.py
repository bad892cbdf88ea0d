"""Discovery (kind <-> resource, CRDs at run time) and event folding."""

from __future__ import annotations

import uuid
from typing import Any, cast

import pytest

from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.discovery import RestMapper
from autopilot.kube.events import EVENTS, EventRecorder
from autopilot.kube.resources import ResourceInfo
from autopilot.observability.metrics import Metrics
from tests.support.kube_resources import CONFIGMAPS
from tests.support.wait import eventually

CRDS = ResourceInfo("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
                    "customresourcedefinitions", False)


async def discovered(mapper: RestMapper, api_version: str, kind: str) -> ResourceInfo | None:
    """The kind as discovery serves it now (read again)."""
    await mapper.refresh()
    return mapper.lookup(api_version, kind)


def widget_crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Cluster",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget",
                      "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object",
                                               "x-kubernetes-preserve-unknown-fields": True}},
            }],
        },
    }


@pytest.mark.real_ok
async def test_builtin_kinds_resolve(kube: KubeClient) -> None:
    mapper = RestMapper(kube)
    await mapper.refresh()
    assert mapper.lookup("v1", "ConfigMap") == CONFIGMAPS
    assert mapper.lookup("v1", "Namespace") == ResourceInfo("", "v1", "Namespace",
                                                            "namespaces", False)
    lease = mapper.lookup("coordination.k8s.io/v1", "Lease")
    assert lease is not None and lease.plural == "leases" and lease.namespaced
    assert mapper.lookup("v1", "Status") is None
    assert mapper.crd_name_for(lease) == "leases.coordination.k8s.io"
    assert mapper.crd_name_for(CONFIGMAPS) is None
    assert all("/" not in r.plural for r in mapper.all())  # no subresources


@pytest.mark.real_ok
async def test_the_whole_map_comes_from_two_aggregated_documents(cluster: Any) -> None:
    """Aggregated discovery: ``/api`` and ``/apis``, not one request per group version."""
    metrics = Metrics()
    kube = await KubeClient.create(str(cluster.kubeconfig), metrics=metrics)
    try:
        mapper = RestMapper(kube)
        await mapper.refresh()
        assert mapper.lookup("v1", "ConfigMap") == CONFIGMAPS
        assert mapper.lookup("apps/v1", "DaemonSet") == ResourceInfo(
            "apps", "v1", "DaemonSet", "daemonsets", True)
        assert mapper.lookup("v1", "Node") == ResourceInfo("", "v1", "Node", "nodes", False)
        assert all("/" not in r.plural for r in mapper.all())
        assert metrics.value("virt_platform_api_requests_total", verb="GET", code="200") == 2
    finally:
        await kube.close()


class LegacyServer:
    """A server without aggregated discovery: plain lists, one document per group version."""

    def __init__(self, *, broken: str = "") -> None:
        self.paths: list[str] = []
        self.broken = broken
        self.docs: dict[str, dict[str, Any]] = {
            "/api": {"kind": "APIVersions", "versions": ["v1"]},
            "/apis": {"kind": "APIGroupList", "groups": [
                {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}]},
                {"name": "metrics.k8s.io",
                 "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}]},
            ]},
            "/api/v1": {"resources": [
                {"name": "configmaps", "kind": "ConfigMap", "namespaced": True},
                {"name": "pods/status", "kind": "Pod", "namespaced": True}]},
            "/apis/apps/v1": {"resources": [
                {"name": "daemonsets", "kind": "DaemonSet", "namespaced": True}]},
            "/apis/metrics.k8s.io/v1beta1": {"resources": [
                {"name": "nodes", "kind": "NodeMetrics", "namespaced": False}]},
        }

    async def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        self.paths.append(path)
        if path == self.broken:
            raise ApiError(503, "ServiceUnavailable", "the server is currently unable")
        return self.docs[path]


async def test_a_server_without_aggregated_discovery_is_read_per_group_version() -> None:
    server = LegacyServer()
    mapper = RestMapper(cast(KubeClient, server))
    await mapper.refresh()
    assert mapper.lookup("v1", "ConfigMap") == CONFIGMAPS
    assert mapper.lookup("apps/v1", "DaemonSet") is not None
    assert mapper.lookup("v1", "Pod") is None  # only a subresource was listed
    assert sorted(server.paths) == ["/api", "/api/v1", "/apis", "/apis/apps/v1",
                                    "/apis/metrics.k8s.io/v1beta1"]
    # A group version that fails later keeps what was known of it.
    server.broken = "/apis/metrics.k8s.io/v1beta1"
    await mapper.refresh()
    assert mapper.lookup("metrics.k8s.io/v1beta1", "NodeMetrics") is not None


@pytest.mark.real_ok
async def test_crd_appears_and_disappears_at_run_time(kube: KubeClient) -> None:
    group = f"t{uuid.uuid4().hex[:8]}.runtime.test"
    mapper = RestMapper(kube)
    assert await discovered(mapper, f"{group}/v1", "Widget") is None

    await kube.create(CRDS, widget_crd(group))
    try:
        found = await eventually(lambda: discovered(mapper, f"{group}/v1", "Widget"),
                                 timeout=15, what="the new kind served")
        assert found == ResourceInfo(group, "v1", "Widget", "widgets", False)
    finally:
        await kube.delete(CRDS, f"widgets.{group}")

    async def gone() -> bool:
        return await discovered(mapper, f"{group}/v1", "Widget") is None

    await eventually(gone, timeout=15, what="the kind gone")


@pytest.mark.real_ok
async def test_repeated_events_fold_into_one_series(kube: KubeClient, namespace: str) -> None:
    target = await kube.create(CONFIGMAPS, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "target", "namespace": namespace},
    })
    target.setdefault("apiVersion", "v1")
    target.setdefault("kind", "ConfigMap")
    recorder = EventRecorder(kube, instance="test-instance")
    for _ in range(5):
        recorder.emit(target, type="Warning", reason="ApplyFailed",
                      note="admission webhook denied the request", action="Apply")
    recorder.emit(target, type="Normal", reason="AssetApplied", note="applied", action="Apply")
    await recorder.drain()
    items, _ = await kube.list(EVENTS, namespace=namespace)
    mine = [e for e in items if (e.get("regarding") or {}).get("name") == "target"]
    by_reason = {e["reason"]: e for e in mine}
    assert sorted(by_reason) == ["ApplyFailed", "AssetApplied"]
    assert len(mine) == 2
    failed = by_reason["ApplyFailed"]
    assert failed["series"]["count"] == 5
    assert failed["type"] == "Warning"
    assert failed["reportingController"] == "virt-platform-autopilot"
    assert failed["reportingInstance"] == "test-instance"
    assert failed["note"] == "admission webhook denied the request"
    assert failed["regarding"]["kind"] == "ConfigMap"
    assert failed["regarding"]["uid"] == target["metadata"]["uid"]


@pytest.mark.real_ok
async def test_event_flood_is_capped(kube: KubeClient, namespace: str) -> None:
    recorder = EventRecorder(kube, instance="flood", burst=5, refill_every=3600)
    ref = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "noisy", "namespace": namespace}}
    for i in range(50):
        recorder.emit(ref, type="Warning", reason="ApplyFailed", note=f"attempt {i}",
                      action="Apply")
    await recorder.drain()
    items, _ = await kube.list(EVENTS, namespace=namespace)
    assert len([e for e in items if e["regarding"]["name"] == "noisy"]) == 5
    assert recorder.dropped == 45


@pytest.mark.real_ok
async def test_api_error_keeps_the_server_message(kube: KubeClient, namespace: str) -> None:
    with pytest.raises(ApiError) as info:
        await kube.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": "Not_Valid", "namespace": namespace}})
    err = info.value
    assert err.status == 422
    assert err.reason == "Invalid"
    assert "Not_Valid" in err.message
    assert err.body.get("kind") == "Status"
    assert await kube.get(CONFIGMAPS, "absent", namespace=namespace) is None
    assert await kube.delete(CONFIGMAPS, "absent", namespace=namespace) is None


@pytest.mark.real_ok
async def test_list_paginates(kube: KubeClient, namespace: str) -> None:
    for i in range(7):
        await kube.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": f"p{i}", "namespace": namespace}})
    items, rv = await kube.list(CONFIGMAPS, namespace=namespace, limit=2)
    assert sorted(o["metadata"]["name"] for o in items) == [f"p{i}" for i in range(7)]
    assert all(o["kind"] == "ConfigMap" and o["apiVersion"] == "v1" for o in items)
    assert rv
