"""Fixtures for golden-state tests: the shipped golden state and a builder for broken ones."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from autopilot.golden.catalog import GoldenState, load_golden_state
from tests.support.golden_files import MINIMAL_FILES, write_golden_state

PROJECT = Path(__file__).resolve().parents[3]
GOLDEN = PROJECT / "golden_state"
SHARED = PROJECT.parent / "shared"


@pytest.fixture(scope="session")
def golden() -> GoldenState:
    """The golden state shipped with the project."""
    return load_golden_state(GOLDEN)


GoldenBuilder = Callable[..., Path]


@pytest.fixture
def make_golden(tmp_path: Path) -> GoldenBuilder:
    """Write a small golden state; ``files`` maps relative paths to (dedented) text."""

    def build(files: dict[str, str] | None = None, *, minimal: bool = True) -> Path:
        content: dict[str, str | bytes] = dict(MINIMAL_FILES) if minimal else {}
        content.update({rel: textwrap.dedent(text) for rel, text in (files or {}).items()})
        return write_golden_state(tmp_path / "gs", content)

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
