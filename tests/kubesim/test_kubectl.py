"""The installed kubectl against the test API server, used the way the runbook uses it."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import KUBECTL, Cluster
from tests.support.wait import eventually_sync

pytestmark = [pytest.mark.real_ok, pytest.mark.needs_tool("kubectl")]


def _ns(cluster: Cluster) -> str:
    """A fresh namespace (real servers keep deleted ones Terminating: never reuse names)."""
    name = f"kubectl-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "-f", "-",
                    input=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    return name


def _cm(ns: str, data: dict[str, str]) -> str:
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kubectl-demo", "namespace": ns}, "data": data}
    return json.dumps(body)


def _get(cluster: Cluster, ns: str) -> dict[str, Any]:
    out = cluster.kubectl("get", "cm", "kubectl-demo", "-n", ns, "-o", "json",
                          "--show-managed-fields").stdout
    result: dict[str, Any] = json.loads(out)
    return result


def test_get_namespaces(cluster: Cluster) -> None:
    ns = _ns(cluster)
    out = cluster.kubectl("get", "ns").stdout
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "AGE"]
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
    assert rows[ns] == "Active"
    assert rows["default"] == "Active"


def test_create_commands_of_built_in_kinds(cluster: Cluster) -> None:
    # kubectl's typed create commands send protobuf (the demo's first steps).
    ns = f"kubectl-{uuid.uuid4().hex[:8]}"
    assert cluster.kubectl("create", "ns", ns).stdout.strip() == f"namespace/{ns} created"
    cluster.kubectl("create", "configmap", "settings", "-n", ns, "--from-literal=a=1",
                    "--from-literal=b=two")
    cluster.kubectl("create", "secret", "generic", "creds", "-n", ns, "--from-literal=k=v")
    cluster.kubectl("create", "serviceaccount", "robot", "-n", ns)
    got = json.loads(cluster.kubectl("get", "ns", ns, "-o", "json").stdout)
    assert got["metadata"]["labels"] == {"kubernetes.io/metadata.name": ns}
    assert got["status"]["phase"] == "Active"
    cm = json.loads(cluster.kubectl("get", "cm", "settings", "-n", ns, "-o", "json",
                                    "--show-managed-fields").stdout)
    assert cm["data"] == {"a": "1", "b": "two"}
    assert [m["manager"] for m in cm["metadata"]["managedFields"]] == ["kubectl-create"]
    secret = json.loads(cluster.kubectl("get", "secret", "creds", "-n", ns, "-o", "json").stdout)
    assert secret["type"] == "Opaque" and secret["data"] == {"k": "dg=="}
    assert cluster.kubectl("get", "sa", "robot", "-n", ns, "-o", "name").stdout.strip() == \
        "serviceaccount/robot"
    taken = cluster.kubectl("create", "configmap", "settings", "-n", ns, check=False)
    assert taken.returncode == 1
    assert 'configmaps "settings" already exists' in taken.stderr


def test_get_configmap_yaml_and_not_found(cluster: Cluster) -> None:
    ns = _ns(cluster)
    missing = cluster.kubectl("get", "cm", "kubectl-demo", "-n", ns, check=False)
    assert missing.returncode == 1
    assert 'configmaps "kubectl-demo" not found' in missing.stderr
    cluster.kubectl("apply", "--server-side", "-f", "-", input=_cm(ns, {"a": "1"}))
    out = cluster.kubectl("get", "cm", "kubectl-demo", "-n", ns, "-o", "yaml").stdout
    assert "kind: ConfigMap" in out
    assert 'a: "1"' in out
    assert f"namespace: {ns}" in out


def test_server_side_apply_conflict_and_force(cluster: Cluster) -> None:
    ns = _ns(cluster)
    first = cluster.kubectl("apply", "--server-side", "-f", "-", input=_cm(ns, {"a": "1"}))
    assert "configmap/kubectl-demo serverside-applied" in first.stdout
    rv = _get(cluster, ns)["metadata"]["resourceVersion"]
    again = cluster.kubectl("apply", "--server-side", "-f", "-", input=_cm(ns, {"a": "1"}))
    assert "serverside-applied" in again.stdout
    assert _get(cluster, ns)["metadata"]["resourceVersion"] == rv, "a no-op apply wrote"

    cluster.kubectl("patch", "cm", "kubectl-demo", "-n", ns, "--type", "merge",
                    "-p", '{"data":{"a":"2"}}')
    refused = cluster.kubectl("apply", "--server-side", "-f", "-", input=_cm(ns, {"a": "1"}),
                              check=False)
    assert refused.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .data.a' \
        in refused.stderr
    assert _get(cluster, ns)["data"] == {"a": "2"}

    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                    input=_cm(ns, {"a": "1"}))
    live = _get(cluster, ns)
    assert live["data"] == {"a": "1"}
    owners = {m["manager"]: m for m in live["metadata"]["managedFields"]}
    assert owners["kubectl"]["operation"] == "Apply"
    assert "f:a" in json.dumps(owners["kubectl"]["fieldsV1"])
    assert "kubectl-patch" not in owners, "the forced apply took the only field it owned"


def test_annotate_label_delete(cluster: Cluster) -> None:
    ns = _ns(cluster)
    cluster.kubectl("apply", "--server-side", "-f", "-", input=_cm(ns, {"a": "1"}))
    cluster.kubectl("annotate", "cm", "kubectl-demo", "-n", ns, "x=y", "--overwrite")
    cluster.kubectl("label", "cm", "kubectl-demo", "-n", ns, "l=v", "--overwrite")
    live = _get(cluster, ns)
    assert live["metadata"]["annotations"] == {"x": "y"}
    assert live["metadata"]["labels"] == {"l": "v"}
    managers = {m["manager"]: m["operation"] for m in live["metadata"]["managedFields"]}
    assert managers == {"kubectl": "Apply", "kubectl-annotate": "Update",
                        "kubectl-label": "Update"}
    selected = cluster.kubectl("get", "cm", "-n", ns, "-l", "l=v", "-o", "name").stdout
    assert selected.split() == ["configmap/kubectl-demo"]
    out = cluster.kubectl("delete", "cm", "kubectl-demo", "-n", ns).stdout
    assert 'configmap "kubectl-demo" deleted' in out
    gone = cluster.kubectl("get", "cm", "kubectl-demo", "-n", ns, check=False)
    assert gone.returncode == 1 and "not found" in gone.stderr


def _crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget",
                           "listKind": "GadgetList", "shortNames": ["gdt"]},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {
                                   "type": "object",
                                   "properties": {"spec": {
                                       "type": "object",
                                       "properties": {"size": {"type": "integer"}}}}}}}]},
    }


def test_api_resources_shows_a_new_crd(cluster: Cluster, tmp_path: Path) -> None:
    group = f"k{uuid.uuid4().hex[:6]}.example.com"
    before = cluster.kubectl("api-resources", "--api-group", group).stdout
    assert "Gadget" not in before
    path = tmp_path / "crd.json"
    path.write_text(json.dumps(_crd(group)))
    cluster.install_crds(path)
    out = cluster.kubectl("api-resources", "--api-group", group).stdout
    row = next(line.split() for line in out.splitlines() if "Gadget" in line)
    assert row == ["gadgets", "gdt", f"{group}/v1", "true", "Gadget"]
    ns = _ns(cluster)
    gadget = {"apiVersion": f"{group}/v1", "kind": "Gadget",
              "metadata": {"name": "g1", "namespace": ns}, "spec": {"size": 3}}
    cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(gadget))
    got = json.loads(cluster.kubectl("get", "gdt", "g1", "-n", ns, "-o", "json").stdout)
    assert got["spec"] == {"size": 3}


def test_get_watch_sees_a_change(cluster: Cluster) -> None:
    ns = _ns(cluster)
    cluster.kubectl("apply", "--server-side", "-f", "-", input=_cm(ns, {"a": "1"}))
    cmd = [KUBECTL, "--kubeconfig", str(cluster.kubeconfig), "--cache-dir",
           str(cluster.workdir / "kube-cache"), "get", "cm", "kubectl-demo", "-n", ns, "-w",
           "--request-timeout=0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        eventually_sync(lambda: any(ln.split()[:2] == ["kubectl-demo", "1"] for ln in lines),
                        timeout=20, what="the first row")
        status, body = cluster.api(
            "PATCH", f"/api/v1/namespaces/{ns}/configmaps/kubectl-demo",
            body={"data": {"b": "2"}}, content_type="application/merge-patch+json")
        assert status == 200, body
        eventually_sync(lambda: any(ln.split()[:2] == ["kubectl-demo", "2"] for ln in lines),
                        timeout=20, what="the changed row (DATA 2)")
    finally:
        proc.terminate()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
