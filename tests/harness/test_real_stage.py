"""The real stage (``--api-server-tests``) refuses to run without a real API server.

Without both binaries every ``cluster`` would be a kubesim one and the stage would
pass while proving nothing about the real server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _collect(tmp_path: Path, assets: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBEBUILDER_ASSETS"}
    if assets is not None:
        env["KUBEBUILDER_ASSETS"] = assets
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
         "--api-server-tests", str(Path(__file__).relative_to(ROOT))],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("binaries", [(), ("etcd",), ("kube-apiserver",)])
def test_the_real_stage_fails_without_both_binaries(tmp_path: Path,
                                                    binaries: tuple[str, ...]) -> None:
    for name in binaries:
        (tmp_path / name).write_text("#!/bin/sh\n")
    run = _collect(tmp_path, str(tmp_path))
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout + run.stderr
    assert "--api-server-tests needs a real kube-apiserver" in run.stderr
    assert "lacks" in run.stderr


def test_the_real_stage_fails_without_assets(tmp_path: Path) -> None:
    run = _collect(tmp_path, None)
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout + run.stderr
    assert "KUBEBUILDER_ASSETS is not set" in run.stderr


def test_the_real_stage_accepts_a_folder_with_both(tmp_path: Path) -> None:
    for name in ("etcd", "kube-apiserver"):
        (tmp_path / name).write_text("#!/bin/sh\n")
    run = _collect(tmp_path, str(tmp_path))
    # Nothing here talks to an API server, so the real stage selects nothing.
    assert run.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, run.stdout + run.stderr


PROBE = '''
import pytest

def test_unmarked(request):
    request.getfixturevalue("cluster")

@pytest.mark.apiserver
def test_marked(request):
    request.getfixturevalue("cluster")
'''


def test_a_cluster_asked_for_at_run_time_needs_the_apiserver_marker(tmp_path: Path) -> None:
    """The real stage selects by declared fixtures; an unmarked run-time request fails."""
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k != "KUBEBUILDER_ASSETS"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), "-q", "-rA",
         str(probe)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert re.search(r"^PASSED \S*test_probe.py::test_marked$", run.stdout, re.M), run.stdout
    # pytest appends the failure's message to the summary line in CI (CI=true), not on a
    # narrow terminal.
    assert re.search(r"^FAILED \S*test_probe.py::test_unmarked( - .*)?$", run.stdout, re.M), (
        run.stdout)
    assert "without the `apiserver` marker" in run.stdout, run.stdout
