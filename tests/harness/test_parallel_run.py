"""CI runs the suite in pytest-xdist workers; the real stage's promises survive that.

The fixtures run in the workers while the controller process prints the summary, so
"how many tests ran against the real server" and every skip's reason must travel in
the test reports. The probe below plays the ``cluster`` fixture's part (it tells the
report module what it served and started) so no API server is needed; the summary is
printed because ``KUBEBUILDER_ASSETS`` names a folder holding both binaries' names.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKERS = "3"

PROBE = '''
import pytest

from tests.support import report


@pytest.mark.parametrize("n", range(6))
def test_on_a_fresh_server(request, n):
    report.server_started(shared=False)
    report.served(request.node, "fresh")


@pytest.mark.parametrize("n", range(3))
def test_on_the_shared_server(request, n):
    report.served(request.node, "shared")


def test_failing_on_the_shared_server(request):
    report.served(request.node, "shared")
    assert False, "meant to fail"


@pytest.mark.parametrize("n", range(2))
def test_skipped(n):
    pytest.skip("a reason of its own")
'''


def _run(tmp_path: Path, *args: str, assets: Path) -> subprocess.CompletedProcess[str]:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    env = {**os.environ, "KUBEBUILDER_ASSETS": str(assets)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), "-q", "-rs",
         *args, str(probe)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def fake_assets(tmp_path: Path) -> Path:
    """A folder holding files named like both binaries (nothing here starts them)."""
    folder = tmp_path / "assets"
    folder.mkdir()
    for name in ("etcd", "kube-apiserver"):
        (folder / name).write_text("#!/bin/sh\nexit 1\n")
    return folder


@pytest.mark.parametrize("args", [(), ("-n", WORKERS)], ids=["serial", "xdist"])
def test_the_summary_counts_what_every_worker_ran(tmp_path: Path, fake_assets: Path,
                                                 args: tuple[str, ...]) -> None:
    run = _run(tmp_path, *args, assets=fake_assets)
    out = run.stdout
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, out + run.stderr
    if args:
        assert "bringing up nodes" in out and "[gw" in out, out  # xdist ran it
    assert ("== real kube-apiserver: 10 tests ran against it (9 passed, 1 failed; "
            "4 on the shared server, 6 on fresh servers; "
            "servers started: 0 shared, 6 fresh)") in out, out
    assert "== real kube-apiserver: 2 tests skipped:" in out, out
    assert re.search(r"^   2 x a reason of its own$", out, re.M), out
    # pytest's own -rs report still names each skip.
    assert re.search(r"^SKIPPED \[2\] \S*test_probe.py:\d+: a reason of its own$", out,
                     re.M), out


def test_the_real_stage_still_refuses_kubesim_under_xdist(tmp_path: Path) -> None:
    """Without a real server the stage stops before any worker starts."""
    run = _run(tmp_path, "--api-server-tests", "-n", WORKERS, assets=tmp_path / "absent")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout + run.stderr
    assert "--api-server-tests needs a real kube-apiserver" in run.stderr, run.stderr
