"""RELIABILITY.md names, beside each row, the tests that show it: they must exist."""

from __future__ import annotations

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
