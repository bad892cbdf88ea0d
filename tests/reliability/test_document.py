"""RELIABILITY.md names, beside each row, the tests that show it: they must exist."""

from __future__ import annotations

import importlib
import re

from tests.support.controller import PROJECT

DOC = PROJECT / "RELIABILITY.md"
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def _rows() -> list[str]:
    return [line for line in DOC.read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| ---")]


def test_every_row_names_a_test() -> None:
    rows = [r for r in _rows() if not r.startswith(("| fault |", "| input |", "| check |"))]
    assert rows
    last = [r.rstrip(" |").rsplit(" | ", 1)[-1] for r in rows]
    unnamed = [r[:60] for r, cell in zip(rows, last, strict=True)
               if not TEST_REF.search(cell) and cell != "the same test"]
    assert unnamed == [], unnamed


def test_named_tests_exist() -> None:
    refs = TEST_REF.findall(DOC.read_text())
    assert refs
    missing = []
    for path, name in refs:
        file = PROJECT / path
        if not file.is_file():
            missing.append(path)
        elif name and not re.search(rf"^(async )?def {name}\(", file.read_text(), re.M):
            missing.append(f"{path}::{name}")
    assert missing == [], missing


OPT_IN = "## Opt-in runs"


def _opt_in(path: str, name: str) -> bool:
    """Whether CI skips the test: a ``skipif`` whose condition holds without opt-in settings."""
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    marks = getattr(getattr(module, name), "pytestmark", [])
    return any(m.name == "skipif" and m.args and m.args[0] for m in marks)


def test_only_opt_in_runs_are_claimed_apart() -> None:
    """The tables claim what CI runs; the opt-in section lists exactly the opt-in tests."""
    text = DOC.read_text()
    assert OPT_IN in text
    head, _, rest = text.partition(OPT_IN)
    opt_in, _, tail = rest.partition("\n## ")
    for section, expected in ((head + tail, False), (opt_in, True)):
        refs = [(p, n) for p, n in TEST_REF.findall(section) if n]
        wrong = [f"{p}::{n}" for p, n in refs if _opt_in(p, n) != expected]
        assert wrong == [], f"{'not ' if expected else ''}opt-in: {wrong}"
