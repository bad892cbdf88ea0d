"""The API client: timeouts, unreachable servers, metrics, configuration errors."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio.client import Configuration

from autopilot.kube.client import (
    ApiError,
    ApiUnreachable,
    ClientConfigError,
    KubeClient,
    load_configuration,
)
from autopilot.observability.metrics import Metrics
from kubesim.controls import Controls
from tests.support.kube_resources import CONFIGMAPS


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_server_is_a_connection_error() -> None:
    cfg = Configuration()
    cfg.host = f"http://127.0.0.1:{closed_port()}"
    metrics = Metrics()
    client = KubeClient.from_configuration(cfg, timeout=2.0, metrics=metrics)
    try:
        with pytest.raises(ApiUnreachable):
            await client.get(CONFIGMAPS, "x", namespace="default")
    finally:
        await client.close()
    assert metrics.value("virt_platform_api_requests_total", verb="GET", code="error") == 1


async def test_missing_kubeconfig_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ClientConfigError, match="does not exist"):
        await load_configuration(tmp_path / "nope")
    bad = tmp_path / "bad"
    bad.write_text("this: [is not a kubeconfig")
    with pytest.raises(ClientConfigError) as info:
        await load_configuration(bad)
    assert "\n" not in str(info.value)


async def test_hanging_server_times_out_and_errors_are_counted(cluster: Any,
                                                              faults: Controls) -> None:
    metrics = Metrics()
    client = await KubeClient.create(str(cluster.kubeconfig), timeout=0.5, metrics=metrics)
    try:
        faults.inject_errors(status=500, verb="get", resource="configmaps", hang=True,
                                   count=1)
        with pytest.raises(TimeoutError):
            await client.get(CONFIGMAPS, "x", namespace="default")
        faults.inject_errors(status=429, verb="get", resource="configmaps",
                                   retry_after=7, count=1)
        with pytest.raises(ApiError) as info:
            await client.get(CONFIGMAPS, "x", namespace="default")
        assert info.value.status == 429
        assert info.value.retry_after == 7
        assert await client.get(CONFIGMAPS, "x", namespace="default") is None
    finally:
        faults.clear_errors()
        await client.close()
    assert metrics.value("virt_platform_api_requests_total", verb="GET", code="timeout") == 1
    assert metrics.value("virt_platform_api_requests_total", verb="GET", code="429") == 1
    assert metrics.value("virt_platform_api_requests_total", verb="GET", code="404") == 1


@pytest.mark.real_ok
async def test_apply_is_server_side_with_our_field_manager(
    kube: KubeClient, namespace: str
) -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "applied", "namespace": namespace}, "data": {"a": "1"}}
    dry = await kube.apply(CONFIGMAPS, obj, dry_run=True)
    assert dry["data"] == {"a": "1"}
    assert await kube.get(CONFIGMAPS, "applied", namespace=namespace) is None
    live = await kube.apply(CONFIGMAPS, obj)
    managers = {m["manager"] for m in live["metadata"]["managedFields"]}
    assert managers == {"virt-platform-autopilot"}
    patched = await kube.patch(CONFIGMAPS, "applied", [{"op": "add", "path": "/data/b",
                                                         "value": "2"}],
                               namespace=namespace, patch_type="json")
    assert patched["data"] == {"a": "1", "b": "2"}
