"""`autopilot run` as a process: probes, SIGTERM handling, Lease release."""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.runtime.lease import LEASE_NAME
from tests.support.controller import Controller
from tests.support.wait import eventually_sync


@pytest.mark.real_ok
def test_sigterm_exits_zero_within_10s_logs_why_and_releases_the_lease(
    cluster: Any, namespace: str
) -> None:
    ctl = Controller(kubeconfig=cluster.kubeconfig, namespace=namespace,
                     extra_args=["--leader-elect"])
    ctl.start()
    try:
        ctl.wait_ready(timeout=30)
        status, text = ctl.http(ctl.health_port, "/healthz")
        assert (status, text.strip()) == (200, "ok")
        path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{LEASE_NAME}"

        def held() -> bool:
            status, body = cluster.api("GET", path)
            return status == 200 and bool(body["spec"].get("holderIdentity"))

        eventually_sync(held, timeout=20, what="lease acquired")
        assert "virt_platform_leader_status 1" in ctl.metrics_text()

        code, took = ctl.sigterm()
    finally:
        ctl.kill()
    assert code == 0, ctl.log_text()[-3000:]
    assert took < 10, f"exit took {took:.1f}s"
    assert ctl.log_lines("received SIGTERM, shutting down"), ctl.log_text()[-3000:]
    assert "Traceback" not in ctl.log_text()
    status, body = cluster.api("GET", path)
    assert status == 200
    assert not body["spec"].get("holderIdentity"), "lease not released"


def test_bad_flag_is_one_line_exit_2(tmp_path: Any) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "autopilot", "run", "--workers", "lots"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "--workers" in proc.stderr


def test_sigterm_during_startup_against_a_hanging_server(tmp_path: Any) -> None:
    """The API server accepts connections but never answers: still out within 10 s."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # never accepted: requests hang
        port = listener.getsockname()[1]
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "users: [{name: u, user: {token: hanging-token}}]\n"
            "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
        )
        ctl = Controller(kubeconfig=kubeconfig, namespace="default")
        ctl.start()
        try:
            eventually_sync(lambda: ctl.http(ctl.health_port, "/healthz")[0] == 200,
                            timeout=30, what="liveness probe answering during start-up")
            assert ctl.http(ctl.health_port, "/readyz")[0] == 500
            code, took = ctl.sigterm()
        finally:
            ctl.kill()
    assert code == 0, ctl.log_text()[-3000:]
    assert took < 10, f"exit took {took:.1f}s"
    assert ctl.log_lines("received SIGTERM, shutting down")
    assert "hanging-token" not in ctl.log_text()


@pytest.mark.real_ok
def test_invalid_golden_state_is_one_line_exit_2(cluster: Any, tmp_path: Any) -> None:
    """The controller's own error (a golden state it cannot load) reaches the user as usage."""
    import subprocess
    import sys

    from tests.support.controller import free_port

    (tmp_path / "catalog").mkdir()  # no VERSION: not a golden state
    proc = subprocess.run(
        [sys.executable, "-m", "autopilot", "run", "--kubeconfig", str(cluster.kubeconfig),
         "--golden-state", str(tmp_path), "--log-format", "json",
         "--metrics-bind-address", f"127.0.0.1:{free_port()}",
         "--health-probe-bind-address", f"127.0.0.1:{free_port()}",
         "--debug-bind-address", ""],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("autopilot: error: invalid golden state: "), proc.stderr[-2000:]
    assert "VERSION" in last
    assert "Traceback" not in proc.stderr
