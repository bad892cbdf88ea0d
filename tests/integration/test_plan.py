"""``autopilot plan`` against a live cluster: what would change, what it costs, nothing written.

The cluster: the base platform's CRDs and MachineConfigPools, a worker and a master
pool over three nodes each, and an HCO whose feature switches are set but whose
autopilot is not turned on yet. Every answer is checked against the API server
(objects, audit log or kubesim's counters) and, for what the nodes do, against the
Machine Config Operator's own checks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest

from tests.support.controller import PROJECT
from tests.support.platform import HCO_NS, HCO_PATH, Platform
from tests.support.wait import eventually_sync
from tests.support.webhook import DenyingWebhook, rule

P = "platform.kubevirt.io/"
SWITCHES = {
    P + "openshift": "true",
    P + "enable-kubelet-performance-settings": "true",
    P + "enable-ksm-zero-only": "true",
    P + "enable-thp-tuning": "true",
}
UA = "virt-platform-autopilot"  # the User-Agent product of every autopilot client
WRITES = ("create", "update", "patch", "delete", "deletecollection")
MCO = "/apis/machineconfiguration.openshift.io/v1"
SVC_NAME = "virt-platform-autopilot-metrics"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/{SVC_NAME}"
COMPLIANCE = "virt_platform_compliance_status"


def plan(cluster: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autopilot", "plan", "--kubeconfig", str(cluster.kubeconfig),
         *args],
        cwd=PROJECT, capture_output=True, text=True, timeout=180, check=False)


def plan_json(cluster: Any, *args: str) -> tuple[int, dict[str, Any]]:
    proc = plan(cluster, "-o", "json", *args)
    assert proc.returncode in (0, 1, 2), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def writes(counts: Counter[tuple[str, str, bool]]) -> dict[tuple[str, str, bool], int]:
    """Requests that would have stored something (dry runs store nothing)."""
    return {k: n for k, n in counts.items() if k[0] in WRITES and not k[2] and n}


def pool(name: str) -> dict[str, Any]:
    role = "machineconfiguration.openshift.io/role"
    return {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfigPool",
            "metadata": {"name": name,
                         "labels": {f"pools.operator.machineconfiguration.openshift.io/{name}":
                                    ""}},
            "spec": {"machineConfigSelector": {"matchLabels": {role: name}},
                     "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{name}": ""}}}}


def build_pools(cluster: Any, platform: Platform, *, schedulable_masters: bool) -> Any:
    """Three masters and three workers, their pools, and the HCO (autopilot not on).

    Schedulable masters carry the worker role too, as OpenShift labels them; the MCO
    keeps them in the master pool.
    """
    platform.install("MachineConfigPool")
    for role in ("master", "worker"):
        for i in range(3):
            labels = {f"node-role.kubernetes.io/{role}": ""}
            taints = []
            if role == "master":
                labels["node-role.kubernetes.io/control-plane"] = ""
                if schedulable_masters:
                    labels["node-role.kubernetes.io/worker"] = ""
                else:
                    taints = [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]
            status, out = cluster.api("POST", "/api/v1/nodes", body={
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": f"{role}-{i}", "labels": labels},
                "spec": {"taints": taints}})
            assert status == 201, out
        status, out = cluster.api("POST", f"{MCO}/machineconfigpools", body=pool(role))
        assert status == 201, out
    platform.create_hco(SWITCHES)
    return cluster


@pytest.fixture
def pools_cluster(cluster: Any, platform: Platform) -> Any:
    """Dedicated masters (no master asset applies) and three workers."""
    return build_pools(cluster, platform, schedulable_masters=False)


def by_action(doc: dict[str, Any], action: str) -> set[tuple[str, str]]:
    return {(c["kind"], c["name"]) for c in doc["changes"] if c["action"] == action
            and c.get("kind")}


def test_plan_enable_lists_creates_and_the_worker_reboots(pools_cluster: Any) -> None:
    cluster = pools_cluster
    before = cluster.request_counts(user_agent=UA)
    code, doc = plan_json(cluster, "--enable")
    assert code == 1, doc
    created = by_action(doc, "create")
    mcs = {name for kind, name in created if kind == "MachineConfig"}
    assert {"99-worker-ksm-zero-only", "99-worker-thp-tuning"} <= mcs, created
    assert ("KubeletConfig", "virt-perf-settings") in created, created
    assert ("Service", SVC_NAME) in created, created
    # Of the existing objects, only the HCO itself changes (the framework's fields).
    assert by_action(doc, "update") == {("HyperConverged", "kubevirt-hyperconverged")}, doc
    assert not by_action(doc, "delete"), doc
    [worker] = doc["pools"]
    assert worker["name"] == "worker" and worker["action"] == "reboot", doc["pools"]
    assert worker["nodes"] == ["worker-0", "worker-1", "worker-2"]
    assert doc["summary"]["nodesRebooting"] == ["worker-0", "worker-1", "worker-2"]
    # Nothing stored, no event, no annotation: only reads and dry runs.
    assert writes(cluster.request_counts(user_agent=UA) - before) == {}
    assert cluster.api("GET", SVC)[0] == 404
    hco = cluster.api("GET", HCO_PATH)[1]
    assert P + "autopilot" not in hco["metadata"]["annotations"]

    text = plan(cluster, "--enable")
    assert text.returncode == 1, text.stderr
    assert "+ create     MachineConfig 99-worker-thp-tuning" in text.stdout, text.stdout
    assert "worker: 3 node(s) reboot (worker-0, worker-1, worker-2)" in text.stdout
    assert text.stdout.rstrip().splitlines()[-1].endswith(
        "Pools that roll: 1 (worker). Nodes that reboot: 3."), text.stdout


def test_schedulable_masters_roll_the_master_pool_too(cluster: Any,
                                                      platform: Platform) -> None:
    build_pools(cluster, platform, schedulable_masters=True)
    code, doc = plan_json(cluster, "--enable")
    assert code == 1, doc
    created = by_action(doc, "create")
    assert {("MachineConfig", "99-master-ksm-zero-only"),
            ("MachineConfig", "99-master-thp-tuning")} <= created, created
    rolls = {p["name"]: (p["action"], p["nodes"]) for p in doc["pools"]}
    assert rolls == {"master": ("reboot", ["master-0", "master-1", "master-2"]),
                     "worker": ("reboot", ["worker-0", "worker-1", "worker-2"])}, rolls
    assert len(doc["summary"]["nodesRebooting"]) == 6
    master_mcs = [c for c in doc["changes"] if c.get("name") == "99-master-thp-tuning"]
    assert master_mcs[0]["pools"] == ["master"], master_mcs


def test_plan_without_enable_on_an_idle_hco_changes_nothing(pools_cluster: Any) -> None:
    proc = plan(pools_cluster)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not enabled on this HCO" in proc.stdout
    assert "Plan: 0 to create, 0 to update, 0 to delete" in proc.stdout


def test_plan_without_an_hco_is_an_error(cluster: Any, platform: Platform) -> None:
    proc = plan(cluster)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (f"autopilot: error: HyperConverged {HCO_NS}/"
                                   "kubevirt-hyperconverged not found"), proc.stderr


def test_plan_after_convergence_then_after_tampering(pools_cluster: Any, platform: Platform,
                                                     controller: Any) -> None:
    cluster = pools_cluster
    platform.annotate_hco({P + "autopilot": "true"})
    c = controller()
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, what="Service compliant")
    eventually_sync(lambda: plan(cluster).returncode == 0, timeout=120,
                    what="plan exits 0 once the controller converged")
    c.stop()
    platform.patch(SVC, {"spec": {"selector": {"app": "someone-else"}}})
    code, doc = plan_json(cluster)
    assert code == 1, doc
    changed = [ch for ch in doc["changes"] if ch["action"] in ("create", "update", "delete")]
    assert [(ch["kind"], ch["name"], ch["action"]) for ch in changed] == [
        ("Service", SVC_NAME, "update")], changed
    diff = changed[0]["diff"]
    assert "-    app: someone-else" in diff and "+    app: virt-platform-autopilot" in diff, diff
    assert "managedFields" not in diff and "resourceVersion" not in diff, diff

    # Paused: left alone, so nothing would change.
    platform.patch(SVC, {"metadata": {"annotations": {P + "reconcile-paused": "true"}}})
    code, doc = plan_json(cluster)
    assert code == 0, doc
    assert by_action(doc, "paused") == {("Service", SVC_NAME)}, doc
    # Excluded by disabled-resources: listed as such, nothing would change either.
    platform.patch(SVC, {"metadata": {"annotations": {P + "reconcile-paused": None}}})
    platform.annotate_hco({P + "disabled-resources": f"- kind: Service\n  name: {SVC_NAME}\n"})
    code, doc = plan_json(cluster)
    assert code == 0, doc
    assert by_action(doc, "excluded") == {("Service", SVC_NAME)}, doc


def test_a_webhook_denial_shows_as_would_fail(pools_cluster: Any,
                                              webhook: DenyingWebhook) -> None:
    cluster = pools_cluster
    denial = "servicemonitors are frozen by policy"
    webhook.deny("ServiceMonitor", denial)
    webhook.register(cluster, "freeze.autopilot.test",
                     rules=[rule("monitoring.coreos.com", "servicemonitors")])
    webhook.wait_in_force(cluster, "POST", f"/apis/monitoring.coreos.com/v1/namespaces/{HCO_NS}"
                          "/servicemonitors", {
                              "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                              "metadata": {"name": "probe"},
                              "spec": {"selector": {}, "endpoints": []}})
    code, doc = plan_json(cluster, "--enable")
    assert code == 2, doc  # as kubectl diff: the server would refuse an object
    [failed] = [c for c in doc["changes"] if c["action"] == "would fail"]
    assert (failed["kind"], failed["name"]) == ("ServiceMonitor", SVC_NAME), failed
    assert 'admission webhook "freeze.autopilot.test" denied the request' in failed["note"]
    assert denial in failed["note"], failed
    # The webhook was asked about a dry run only; the rest of the plan is still there.
    assert all(s.dry_run for s in webhook.seen if s.object_name == SVC_NAME), webhook.seen
    assert ("Service", SVC_NAME) in by_action(doc, "create")


def test_a_tombstone_shows_the_delete_it_would_make(pools_cluster: Any,
                                                    platform: Platform) -> None:
    cluster = pools_cluster
    platform.install("NodeHealthCheck")
    path = "/apis/remediation.medik8s.io/v1alpha1/nodehealthchecks"
    status, out = cluster.api("POST", path, body={
        "apiVersion": "remediation.medik8s.io/v1alpha1", "kind": "NodeHealthCheck",
        "metadata": {"name": "virt-node-health-check",
                     "labels": {P + "managed-by": "virt-platform-autopilot"}},
        "spec": {"selector": {"matchExpressions": [
            {"key": "node-role.kubernetes.io/worker", "operator": "Exists"}]}}})
    assert status == 201, out.get("message")
    code, doc = plan_json(cluster, "--enable")
    assert code == 1, doc
    assert by_action(doc, "delete") == {("NodeHealthCheck", "virt-node-health-check")}, doc
    assert cluster.api("GET", f"{path}/virt-node-health-check")[0] == 200
    # Not ours (no ownership label): the sweep would leave it, so would the plan.
    platform.patch(f"{path}/virt-node-health-check",
                   {"metadata": {"labels": {P + "managed-by": None}}})
    code, doc = plan_json(cluster, "--enable")
    assert not by_action(doc, "delete"), doc


def test_a_reader_who_may_not_write_sees_would_fail(pools_cluster: Any) -> None:
    """RBAC: the dry run needs the same rights as the apply; the server's refusal is shown."""
    cluster = pools_cluster
    name = "plan-reader"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": name},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": name},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                             "name": cluster.limited_user}]}
    for path, body in (("clusterroles", role), ("clusterrolebindings", binding)):
        status, out = cluster.api("POST", f"/apis/rbac.authorization.k8s.io/v1/{path}", body=body)
        assert status == 201, out
    kubeconfig = cluster.kubeconfig_for(cluster.limited_token, cluster.limited_user)
    def reader_plan() -> subprocess.CompletedProcess[str] | None:
        proc = subprocess.run(
            [sys.executable, "-m", "autopilot", "plan", "--kubeconfig", str(kubeconfig),
             "--enable", "-o", "json"], cwd=PROJECT, capture_output=True, text=True,
            timeout=180, check=False)
        return proc if proc.returncode == 2 and proc.stdout else None

    proc = eventually_sync(reader_plan, timeout=60,
                           what="the reader's plan runs (its binding in force)")
    doc = json.loads(proc.stdout)
    failed = [c for c in doc["changes"] if c["action"] == "would fail"]
    assert ("Service", SVC_NAME) in {(c["kind"], c["name"]) for c in failed}, doc
    note = next(c["note"] for c in failed if c["kind"] == "Service")
    assert "forbidden" in note and cluster.limited_user in note, note
    assert not by_action(doc, "create"), doc
