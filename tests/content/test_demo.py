"""README's first command: the demo comes up, serves metrics and heals as promised."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.controller import Controller, free_port, parse_metrics
from tests.support.wait import eventually_sync

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(180)
def test_readme_demo_command(tmp_path: Path) -> None:
    readme = (PROJECT / "README.md").read_text()
    command = re.search(r"```bash\n(.*?)\s+#", readme).group(1)  # type: ignore[union-attr]
    assert command == "bash .ci/demo"
    ports = {"metrics": free_port(), "health": free_port(), "debug": free_port()}
    log = (tmp_path / "demo.log").open("w")
    out = (tmp_path / "demo.out").open("w")
    env = {**os.environ, "PATH": f"{PROJECT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    proc = subprocess.Popen(
        ["bash", ".ci/demo", "--metrics-port", str(ports["metrics"]),
         "--health-port", str(ports["health"]), "--debug-port", str(ports["debug"]),
         "--workdir", str(tmp_path), "--log-format", "json"],
        cwd=PROJECT, stdout=out, stderr=log, env=env, start_new_session=True,
    )
    try:
        kubeconfig = tmp_path / "kubeconfig"
        eventually_sync(lambda: "Ctrl-C stops the demo" in (tmp_path / "demo.out").read_text(),
                        timeout=90, what="the demo's instructions")
        printed = (tmp_path / "demo.out").read_text()
        assert f"kubeconfig: {kubeconfig}" in printed

        def compliant() -> bool:
            text = Controller.http(ports["metrics"], "/metrics")[1]
            series = {k: v for k, v in parse_metrics(text).items()
                      if k[0] == "virt_platform_compliance_status"}
            return bool(series) and all(v == 1 for v in series.values())

        eventually_sync(compliant, timeout=60, what="every compliance series at 1")
        # The runbook's grep works on the demo's exposition.
        text = Controller.http(ports["metrics"], "/metrics")[1]
        grep = subprocess.run(["grep", "virt_platform_compliance_status"], input=text,
                              capture_output=True, text=True, check=True)
        assert re.search(r"} 1$", grep.stdout, re.M)

        stamp = str(int(time.time()))
        subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), "-n", "openshift-cnv", "annotate",
             "service/virt-platform-autopilot-metrics",
             f"platform.kubevirt.io/force-reconcile={stamp}", "--overwrite"],
            check=True, capture_output=True, text=True, timeout=60,
        )
        eventually_sync(
            lambda: f'"value": "{stamp}"' in (tmp_path / "demo.log").read_text()
            and "force-reconcile requested" in (tmp_path / "demo.log").read_text(),
            timeout=20, what="a force-reconcile log line",
        )
        explain = subprocess.run(
            [sys.executable, "-m", "autopilot", "explain", "Service",
             "virt-platform-autopilot-metrics", "-n", "openshift-cnv", "--kubeconfig",
             str(kubeconfig), "--debug-address", f"127.0.0.1:{ports['debug']}"],
            cwd=PROJECT, capture_output=True, text=True, timeout=60,
        )
        assert explain.returncode == 0, explain.stderr
        assert "asset:           autopilot-metrics-service" in explain.stdout
        assert "compliance:      1" in explain.stdout
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
        log.close()
        out.close()
    assert code == 0, (tmp_path / "demo.log").read_text()[-2000:]
