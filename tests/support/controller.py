"""Run the real controller (`autopilot run`) as a subprocess against a test cluster.

Tests talk to it the way an administrator does: its `/metrics` over HTTP, its
JSON log lines, and the Kubernetes API (objects and events).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support import rbac
from tests.support.cluster import free_port
from tests.support.prom import parse_metrics
from tests.support.wait import eventually_sync

__all__ = ["Controller", "free_port", "parse_metrics"]

PROJECT = Path(__file__).resolve().parents[2]


class Controller:
    """One `autopilot run` process."""

    def __init__(
        self,
        *,
        kubeconfig: Path,
        namespace: str = "openshift-cnv",
        extra_args: Iterable[str] = (),
        env: dict[str, str] | None = None,
        golden_state: Path | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.debug_port = free_port()
        self.extra_args = list(extra_args)
        self.env = env or {}
        self.golden_state = golden_state
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the process
            prefix="autopilot-", suffix=".log", delete=False
        )
        self.log_path = Path(self._log.name)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Controller:
        """Start the process (does not wait for readiness)."""
        args = [
            sys.executable, "-m", "autopilot", "run",
            "--kubeconfig", str(self.kubeconfig),
            "--namespace", self.namespace,
            "--metrics-bind-address", f"127.0.0.1:{self.metrics_port}",
            "--health-probe-bind-address", f"127.0.0.1:{self.health_port}",
            "--debug-bind-address", f"127.0.0.1:{self.debug_port}",
            "--log-format", "json",
            "--log-level", "debug",
            *(["--golden-state", str(self.golden_state)] if self.golden_state else []),
            *self.extra_args,
        ]
        env = {**os.environ, **self.env}
        env.pop("KUBERNETES_SERVICE_HOST", None)
        self.proc = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, cwd=PROJECT, env=env
        )
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until /readyz answers 200 (about a second on a quiet machine, many
        times that on a starved one, hence the generous default)."""

        restarts = [2]

        def ready() -> bool:
            if restarts[0] and self._lost_a_port():
                # Another process bound one of the ports between free_port() and the
                # controller's bind (parallel workers): the same start on fresh ports.
                restarts[0] -= 1
                self._restart_on_fresh_ports()
                return False
            self._check_alive()
            return self.http(self.health_port, "/readyz")[0] == 200

        eventually_sync(ready, timeout=timeout, what="controller /readyz")

    def _lost_a_port(self) -> bool:
        """Whether the process exited because a listen port was taken."""
        return (self.proc is not None and self.proc.poll() is not None
                and "address already in use" in self.log_text())

    def _restart_on_fresh_ports(self) -> None:
        self.metrics_port, self.health_port, self.debug_port = free_port(), free_port(), free_port()
        self._log.seek(0)
        self._log.truncate()
        self.start()

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"controller exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}"
            )

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return int(self.proc.returncode)

    def sigterm(self, timeout: float = 15.0) -> tuple[int, float]:
        """SIGTERM and wait for the exit: (exit code, seconds it took).

        Raises ``subprocess.TimeoutExpired`` past ``timeout``; the log stays open.
        """
        assert self.proc is not None, "not started"
        self.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - sent

    def kill(self) -> None:
        """SIGKILL (no cleanup)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # -- observations --------------------------------------------------------------------

    @staticmethod
    def http(port: int, path: str, *, method: str = "GET") -> tuple[int, str]:
        """A plain HTTP request to 127.0.0.1:port."""
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def metrics_text(self) -> str:
        """The raw /metrics exposition."""
        status, body = self.http(self.metrics_port, "/metrics")
        if status == 0:
            self._check_alive()  # a process that exited says why, with its last log lines
            raise AssertionError(f"/metrics on port {self.metrics_port} did not answer within "
                                 "5 s, though the process is alive")
        if status != 200:
            raise AssertionError(f"/metrics answered {status}")
        return body

    def metric(self, metric_name: str, /, **labels: str) -> float | None:
        """Value of one series, or None when absent."""
        want = {(k, v) for k, v in labels.items()}
        for (n, ls), value in parse_metrics(self.metrics_text()).items():
            if n == metric_name and want <= set(ls):
                return value
        return None

    def series(self, metric_name: str, /) -> dict[frozenset[tuple[str, str]], float]:
        """All series of one metric."""
        return {
            ls: v for (n, ls), v in parse_metrics(self.metrics_text()).items() if n == metric_name
        }

    def log_text(self) -> str:
        """Everything the process logged so far."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def logs(self) -> list[dict[str, Any]]:
        """Parsed JSON log lines (non-JSON lines are skipped)."""
        out = []
        for line in self.log_text().splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                out.append(item)
        return out

    def log_lines(self, event: str, **fields: str) -> list[dict[str, Any]]:
        """Log lines with this ``event`` text and matching fields."""
        return [
            line
            for line in self.logs()
            if line.get("event") == event and all(line.get(k) == v for k, v in fields.items())
        ]

    def __enter__(self) -> Controller:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def leader_and_standby(a: Controller, b: Controller, *,
                       timeout: float = 30.0) -> tuple[Controller, Controller]:
    """Wait until one of two replicas leads and the other stands by; (leader, standby)."""
    leading = "virt_platform_leader_status"
    eventually_sync(lambda: {a.metric(leading), b.metric(leading)} == {0, 1},
                    timeout=timeout, what="one leader, one standby")
    return (a, b) if a.metric(leading) == 1 else (b, a)


StartController = Callable[..., Controller]


@contextmanager
def controllers(cluster: Any, *, resync: str) -> Iterator[StartController]:
    """A factory starting ``autopilot run`` against ``cluster``; all stopped on the way out.

    A controller runs as its service account with the shipped RBAC (granted here unless
    the test granted a role of its own first), never as a cluster admin; ``kubeconfig``
    overrides that, ``resync`` the suite's resync period.
    """
    started: list[Controller] = []

    def start(*extra: str, wait: bool = True, env: dict[str, str] | None = None,
              resync: str = resync, kubeconfig: Any = None) -> Controller:
        if kubeconfig is None:
            if not rbac.granted(cluster):
                rbac.grant(cluster)
            kubeconfig = rbac.service_account_kubeconfig(cluster)
        c = Controller(kubeconfig=kubeconfig, extra_args=["--resync-period", resync, *extra],
                       env=env)
        c.start()
        started.append(c)
        if wait:
            c.wait_ready()
        return c

    try:
        yield start
    finally:
        for c in started:
            c.stop()
