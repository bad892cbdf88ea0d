"""One way to read render inputs: explain and /debug/render show what the controller applies.

The masters here look unschedulable to node roles alone (tainted, no worker
role) and only the Scheduler ``cluster`` says otherwise, so a path that skipped
the Scheduler would render a different cluster: no master MachineConfig.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.controller import PROJECT, Controller
from tests.support.features_support import contains, node
from tests.support.platform import Platform
from tests.support.wait import eventually_sync

ASSET = "thp-tuning-master-machineconfig"
MC_NAME = "99-master-thp-tuning"
MC_PATH = f"/apis/machineconfiguration.openshift.io/v1/machineconfigs/{MC_NAME}"


def schedulable_masters_cluster(cluster: Any, platform: Platform, tmp_path: Path) -> None:
    """A tainted master, a worker, and a Scheduler saying masters are schedulable."""
    platform.install("Scheduler")
    status, body = cluster.api("POST", "/apis/config.openshift.io/v1/schedulers", body={
        "apiVersion": "config.openshift.io/v1", "kind": "Scheduler",
        "metadata": {"name": "cluster"}, "spec": {"mastersSchedulable": True}})
    assert status == 201, body
    master = node("master-0", "master", "control-plane")
    master["spec"] = {"taints": [{"key": "node-role.kubernetes.io/master",
                                  "effect": "NoSchedule"}]}
    for body in (master, node("worker-0", "worker")):
        status, created = cluster.api("POST", "/api/v1/nodes", body=body)
        assert status == 201, created


def debug_render(c: Controller) -> dict[str, Any]:
    status, text = Controller.http(c.debug_port, f"/debug/render/{ASSET}?format=json")
    assert status == 200, text
    docs = [d for d in json.loads(text) if d["metadata"]["name"] == MC_NAME]
    assert len(docs) == 1, text[:2000]
    return dict(docs[0])


def explain(cluster: Any, c: Controller) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "autopilot", "explain", "MachineConfig", MC_NAME,
         "--kubeconfig", str(cluster.kubeconfig), "--debug-address",
         f"127.0.0.1:{c.debug_port}", "--output", "json"],
        cwd=PROJECT, capture_output=True, text=True, timeout=90,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(json.loads(proc.stdout))


@pytest.mark.real_ok
@pytest.mark.timeout(240)
def test_explain_and_debug_render_show_what_the_controller_applies(
    cluster: Any, platform: Platform, controller: Any, tmp_path: Path
) -> None:
    schedulable_masters_cluster(cluster, platform, tmp_path)
    platform.create_hco({"platform.kubevirt.io/autopilot": "thp-tuning",
                         "platform.kubevirt.io/enable-thp-tuning": "true"})
    c = controller()
    live = platform.wait_for(MC_PATH, timeout=60, what="the master MachineConfig applied")
    eventually_sync(lambda: c.metric("virt_platform_compliance_status", kind="MachineConfig",
                                     name=MC_NAME, namespace="") == 1,
                    timeout=60, what="the master MachineConfig compliant")

    rendered = debug_render(c)
    assert contains(live, rendered), "the controller applied what /debug/render shows"
    report = explain(cluster, c)
    assert report["asset"] == ASSET, report
    assert report["desired"] == rendered, "explain renders what /debug/render renders"
    # A forced apply of explain's object by the controller's field manager would change
    # nothing: the live object holds exactly what the controller applied.
    assert report["dry_run_error"] == "" and report["diff"] == [], report
    assert (report["controller"] or {}).get("compliance") == 1, report["controller"]
