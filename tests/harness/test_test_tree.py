"""The test tree keeps one order.

* Unit tests mirror ``autopilot/``: each folder under ``tests/unit`` is a package of
  ``autopilot`` (tests of top-level modules sit in ``tests/unit`` itself).
* The cross-cutting suites each have one folder, and nothing else sits in ``tests/``.
* Helpers live in ``tests/support`` only: elsewhere a Python file is a test module,
  a conftest or a package marker.
* No test file is over 400 lines (past that it wants splitting by what it tests).
* Every folder is a package, so module names never clash between folders.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
SUITES = {"unit", "integration", "reliability", "contract", "bench", "content", "kubesim",
          "harness", "support"}
MAX_TEST_LINES = 400


def _python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def test_only_the_suites_sit_in_tests() -> None:
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders <= SUITES, sorted(folders - SUITES)


def test_unit_folders_mirror_autopilot_packages() -> None:
    unit = TESTS / "unit"
    stray = [str(d.relative_to(unit)) for d in unit.rglob("*")
             if d.is_dir() and d.name != "__pycache__"
             and not (ROOT / "autopilot" / d.relative_to(unit) / "__init__.py").is_file()]
    assert stray == [], f"not packages of autopilot: {stray}"


def test_helpers_live_in_support_only() -> None:
    support = TESTS / "support"
    helpers = [str(p.relative_to(TESTS)) for p in _python_files()
               if support not in p.parents
               and not (p.name.startswith("test_") or p.name in ("conftest.py", "__init__.py"))]
    assert helpers == [], f"helpers outside tests/support: {helpers}"


def test_no_test_file_is_over_the_limit() -> None:
    long = [f"{p.relative_to(TESTS)}: {n}" for p in _python_files()
            if (n := len(p.read_text().splitlines())) > MAX_TEST_LINES]
    assert long == [], long


def test_every_folder_is_a_package() -> None:
    folders = {p.parent for p in _python_files()}
    missing = [str(d.relative_to(ROOT)) for d in folders if not (d / "__init__.py").is_file()]
    assert missing == [], missing
