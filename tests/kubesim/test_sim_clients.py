"""The test kubeconfigs work with kubernetes-asyncio (kubesim and a real server); kubesim
runs standalone from the CLI."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from kubernetes_asyncio import client, config, watch

from tests.support.cluster import PROJECT, Cluster


async def test_kubernetes_asyncio_loads_the_kubeconfig(cluster: Cluster, tmp_path: Path) -> None:
    ns = cluster.new_namespace()
    conf = client.Configuration()
    await config.load_kube_config(config_file=str(cluster.kubeconfig),
                                  client_configuration=conf)
    async with client.ApiClient(conf) as api:
        core = client.CoreV1Api(api)
        names = [ns.metadata.name for ns in (await core.list_namespace()).items]
        assert "default" in names
        listing = await core.list_namespaced_config_map(ns)
        w = watch.Watch()
        events: list[tuple[str, str]] = []

        async def consume() -> None:
            async for ev in w.stream(core.list_namespaced_config_map, ns,
                                     resource_version=listing.metadata.resource_version,
                                     timeout_seconds=5):
                events.append((ev["type"], ev["object"].metadata.name))
                if len(events) == 2:
                    w.stop()

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.2)
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="from-asyncio"),
                                  data={"a": "1"})
        await core.create_namespaced_config_map(ns, body)
        await core.patch_namespaced_config_map("from-asyncio", ns, {"data": {"a": "2"}})
        await asyncio.wait_for(task, 10)
    assert events == [("ADDED", "from-asyncio"), ("MODIFIED", "from-asyncio")]


def test_standalone_server_prints_url_and_exits_cleanly(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    crds = tmp_path / "crds"
    crds.mkdir()
    crds.joinpath("gadgets.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: gadgets.example.com}\n"
        "spec:\n  group: example.com\n  scope: Cluster\n"
        "  names: {kind: Gadget, plural: gadgets}\n"
        "  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: "
        "{type: object, x-kubernetes-preserve-unknown-fields: true}}}]\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubesim", "--port", "0", "--kubeconfig-out",
         str(kubeconfig), "--crds", str(crds), "--token", "t0k"],
        cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("https://127.0.0.1:"), url
        doc = json.loads(kubeconfig.read_text())
        ca = doc["clusters"][0]["cluster"]["certificate-authority-data"]
        assert ca and doc["users"][0]["user"]["token"] == "t0k"
        import base64
        import ssl

        ctx = ssl.create_default_context(cadata=base64.b64decode(ca).decode())
        req = urllib.request.Request(url + "/apis/example.com/v1",
                                     headers={"Authorization": "Bearer t0k"})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            names = [r["name"] for r in json.loads(resp.read())["resources"]]
        assert names == ["gadgets"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
    assert code == 0, proc.stderr.read() if proc.stderr else ""


def test_standalone_server_reports_a_bad_crd_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    proc = subprocess.run([sys.executable, "-m", "kubesim", "--crds", str(bad)],
                          cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and str(bad) in proc.stderr
    assert "Traceback" not in proc.stderr
