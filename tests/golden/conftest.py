"""Fixtures for golden-state tests: the shipped golden state and a builder for broken ones."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from autopilot.golden.catalog import GoldenState, load_golden_state

PROJECT = Path(__file__).resolve().parents[2]
GOLDEN = PROJECT / "golden_state"
SHARED = PROJECT.parent / "shared"

MINIMAL_CATALOG = """
features:
  - name: demo
    title: Demo
    maturity: TP
    switch: always
    assets: [demo-cm]
assets:
  - name: demo-cm
    path: assets/demo/cm.yaml.j2
    order: 5
"""
MINIMAL_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
  namespace: {{ namespace }}
data:
  version: "{{ version }}"
"""


@pytest.fixture(scope="session")
def golden() -> GoldenState:
    """The golden state shipped with the project."""
    return load_golden_state(GOLDEN)


GoldenBuilder = Callable[..., Path]


@pytest.fixture
def make_golden(tmp_path: Path) -> GoldenBuilder:
    """Write a small golden state; ``files`` maps relative paths to (dedented) text."""

    def build(files: dict[str, str] | None = None, *, minimal: bool = True) -> Path:
        root = tmp_path / "gs"
        content: dict[str, str] = {}
        if minimal:
            content = {
                "VERSION": "1.2.3\n",
                "catalog/demo.yaml": MINIMAL_CATALOG,
                "assets/demo/cm.yaml.j2": MINIMAL_TEMPLATE,
            }
        content.update(files or {})
        for rel, text in content.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return root

    return build


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of golden_state/, README.md and manifests/ to run generators against."""
    root = tmp_path / "project"
    shutil.copytree(GOLDEN, root / "golden_state")
    shutil.copy(PROJECT / "README.md", root / "README.md")
    if (PROJECT / "manifests").is_dir():
        shutil.copytree(PROJECT / "manifests", root / "manifests")
    return root
