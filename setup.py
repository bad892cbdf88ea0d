"""Build hook: the wheel carries the golden state as package data.

The golden state lives at the top of the repository (``golden_state/``, its fixed
place); the wheel installs it as ``autopilot/golden_state`` so that a plain
``pip install`` renders without a source checkout. Everything else is in
pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithGoldenState(build_py):
    """``build_py`` that also copies ``golden_state/`` into the built package."""

    def run(self) -> None:
        super().run()
        source = HERE / "golden_state"
        if not (source / "catalog").is_dir():
            raise SystemExit(f"{source}: no golden state to ship (catalog/ missing)")
        target = Path(self.build_lib) / "autopilot" / "golden_state"
        if not self.dry_run:
            shutil.copytree(source, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithGoldenState})
