"""A plain, non-editable install of the built wheel works without a source checkout.

The wheel is built from a copy of the sources (what an sdist holds), installed into a
fresh virtualenv whose dependencies come from this test environment (no package index),
and run from an empty directory: ``--version`` and an offline render must work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from autopilot import __version__

# One worker builds the wheel and its virtualenv once for every test here (module-scoped).
pytestmark = pytest.mark.xdist_group("wheel-install")
ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The controller's wheel, built from a copy of the sources."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        shutil.copy(ROOT / name, src / name)
    for folder in ("autopilot", "golden_state"):
        shutil.copytree(ROOT / folder, src / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheels")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
         "--wheel-dir", str(out), str(src)],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = list(out.glob("virt_platform_autopilot-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed (not editable); returns its bin/."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    # Dependencies: this environment's site-packages appended to the new one's path
    # (a plain path line runs no .pth hooks, so the editable checkout stays out).
    site = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip())
    (site / "test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site),
         str(wheel)],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv / "bin"


def _run(bindir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KUBECONFIG")}
    return subprocess.run([str(bindir / "python"), "-m", "autopilot", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.timeout(600)
def test_the_wheel_ships_the_golden_state(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n for n in names if n.startswith("autopilot/golden_state/")}
    expected = {
        "autopilot/golden_state/" + str(p.relative_to(ROOT / "golden_state"))
        for p in (ROOT / "golden_state").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert expected and expected <= shipped, sorted(expected - shipped)[:5]
    assert not [n for n in names if n.startswith("kubesim/")]


@pytest.mark.timeout(600)
def test_a_plain_install_prints_its_version_and_renders(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "python"), "-c", "import autopilot; print(autopilot.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert not Path(where.stdout.strip()).is_relative_to(ROOT), "imported the checkout"

    version = _run(installed, "--version", cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"autopilot {__version__}"

    hco = tmp_path / "hco.yaml"
    shutil.copy(ROOT / "examples" / "hco.yaml", hco)
    rendered = _run(installed, "render", "--hco-file", str(hco), cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    # The same golden state as the checkout's, object for object.
    checkout = subprocess.run(
        [sys.executable, "-m", "autopilot", "render", "--hco-file", str(hco)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert checkout.returncode == 0, checkout.stderr[-2000:]
    assert rendered.stdout.count("\nkind: ") >= 5
    assert rendered.stdout == checkout.stdout
