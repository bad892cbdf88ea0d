"""Tests needing a command-line tool say so with ``needs_tool``, and CI's setup installs it.

``needs_tool`` skips locally and fails in CI; a plain ``skipif`` on a missing tool
would skip in CI too, hiding that the test never ran.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
# Tools every machine running the suite has (the shell and coreutils-level commands).
BASE = {"bash", "curl", "grep"}
WHICH = re.compile(r"^(\w+) = shutil\.which\(", re.M)
NEEDS = re.compile(r"(?:needs_tool|require_tool)\(([^)]*)\)")


def _installed_by_setup() -> set[str]:
    setup = (ROOT / ".ci" / "setup").read_text()
    pairs = re.search(r"^for pair in (.+); do$", setup, re.M)
    assert pairs, "the tool list of .ci/setup moved"
    return {pair.split(":")[0] for pair in pairs.group(1).split()}


def _test_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p.name != "tools.py")


def test_no_test_skips_for_a_missing_tool_by_hand() -> None:
    offenders = []
    for path in _test_files():
        text = path.read_text()
        for name in WHICH.findall(text):
            if re.search(rf"skipif\(\s*(not\s+{name}\b|{name}\s+is\s+None)", text):
                offenders.append(f"{path.relative_to(ROOT)}: skipif on {name}")
    assert offenders == [], "use @pytest.mark.needs_tool(...) instead: " + "; ".join(offenders)


def test_every_needed_tool_is_installed_by_ci_setup() -> None:
    needed: set[str] = set()
    for path in _test_files():
        for args in NEEDS.findall(path.read_text()):
            needed |= set(re.findall(r'"([\w.-]+)"', args))
    assert "systemd-analyze" in needed
    assert needed - BASE - _installed_by_setup() == set()


class _Item:
    """Just enough of a pytest item for the timeout scaler."""

    def __init__(self, *marks: pytest.MarkDecorator) -> None:
        self.marks = [m.mark for m in marks]

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        return next((m for m in self.marks if m.name == name), None)

    def add_marker(self, marker: pytest.MarkDecorator, append: bool = True) -> None:
        self.marks.insert(len(self.marks) if append else 0, marker.mark)


def test_timeouts_scale_in_ci_and_only_when_asked(monkeypatch: pytest.MonkeyPatch,
                                                  pytestconfig: pytest.Config) -> None:
    from tests.conftest import _scale_timeouts

    marked, plain = _Item(pytest.mark.timeout(90)), _Item()
    monkeypatch.delenv("TEST_TIMEOUT_SCALE", raising=False)
    _scale_timeouts(pytestconfig, [marked, plain])  # type: ignore[list-item]
    assert marked.get_closest_marker("timeout").args == (90,)  # type: ignore[union-attr]
    assert plain.get_closest_marker("timeout") is None
    monkeypatch.setenv("TEST_TIMEOUT_SCALE", "2")
    _scale_timeouts(pytestconfig, [marked, plain])  # type: ignore[list-item]
    assert marked.get_closest_marker("timeout").args == (180,)  # type: ignore[union-attr]
    default = float(pytestconfig.getini("timeout"))
    assert plain.get_closest_marker("timeout").args == (default * 2,)  # type: ignore[union-attr]


def test_a_wait_without_a_timeout_scales_and_an_explicit_one_does_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A wait given no bound lengthens with TEST_TIMEOUT_SCALE; a bound a test asserts
    (an explicit timeout) never does."""
    from tests.support import wait

    monkeypatch.setenv("TEST_TIMEOUT_SCALE", "3")
    assert wait.default_wait() == wait.DEFAULT_WAIT_S * 3
    clock = [0.0]
    monkeypatch.setattr(wait.time, "monotonic", lambda: clock[0])

    def advance(seconds: float) -> None:
        clock[0] += seconds

    monkeypatch.setattr(wait.time, "sleep", advance)
    with pytest.raises(AssertionError, match=r"timed out after 30\.0s"):
        wait.eventually_sync(lambda: False, interval=1.0)
    with pytest.raises(AssertionError, match=r"timed out after 2\.0s"):
        wait.eventually_sync(lambda: False, timeout=2.0, interval=1.0)
    monkeypatch.delenv("TEST_TIMEOUT_SCALE")
    assert wait.default_wait() == wait.DEFAULT_WAIT_S
