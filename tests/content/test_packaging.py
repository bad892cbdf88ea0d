"""The controller's wheel holds the controller only: kubesim ships on its own."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_controller_wheel_has_no_kubesim(tmp_path: Path) -> None:
    # Build from a copy so the test leaves no build/ or egg-info in the working tree.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "autopilot", src / "autopilot",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path / "wheels"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out),
         str(src)],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = list(out.glob("virt_platform_autopilot-*.whl"))
    assert len(wheels) == 1, wheels
    names = zipfile.ZipFile(wheels[0]).namelist()
    modules = [n for n in names if n.endswith(".py")]
    for module in ("autopilot/cli.py", "autopilot/runtime/process.py",
                   "autopilot/controller/wiring.py"):
        assert module in modules, f"the wheel must hold the controller ({module})"
    assert not [n for n in names if n.startswith("kubesim/") or "/sim/" in n], names
