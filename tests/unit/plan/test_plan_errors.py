"""``autopilot plan``'s errors: one line, exit status 2 (as ``kubectl diff``'s errors)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from kubesim.kubeconfig import kubeconfig_text

PROJECT = Path(__file__).resolve().parents[3]


def plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autopilot", "plan", *args], cwd=PROJECT,
                          capture_output=True, text=True, timeout=120, check=False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_cluster_is_exit_2_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(kubeconfig_text(url=f"https://127.0.0.1:{closed_port()}", token="t",
                                      user="u", insecure=True))
    proc = plan("--kubeconfig", str(config))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith("autopilot: error: "), line


def test_a_missing_kubeconfig_and_an_unknown_asset_are_exit_2(tmp_path: Path) -> None:
    proc = plan("--kubeconfig", str(tmp_path / "absent"))
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    proc = plan("--kubeconfig", str(tmp_path / "absent"), "--asset", "no-such-asset")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "autopilot: error: unknown asset 'no-such-asset'"
