"""Reading golden-state YAML files with line numbers, and one-line errors naming them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopilot.yamlload import load_all_with_lines, yaml_problem

if TYPE_CHECKING:
    from ruamel.yaml import YAML


class GoldenStateError(Exception):
    """An invalid golden state; ``str()`` is one line naming the file and entry."""


def rt_yaml() -> YAML:
    # The round-trip loader is still safe (no arbitrary objects) and keeps line numbers.
    from ruamel.yaml import YAML  # ruamel stays off the controller's path

    return YAML(typ="rt")


def line_of(node: Any, key: Any = None) -> int | None:
    """1-based line of a mapping (or of one of its keys / sequence items) when known."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        if key is None:
            return int(lc.line) + 1
        if isinstance(key, int):
            return int(lc.item(key)[0]) + 1
        return int(lc.key(key)[0]) + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        return None


class Reporter:
    """Builds one-line errors for a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, message: str, *, line: int | None = None) -> GoldenStateError:
        where = f"{self.path}:{line}" if line else str(self.path)
        return GoldenStateError(f"{where}: {' '.join(message.split())}")


def load_documents(path: Path) -> list[Any]:
    rep = Reporter(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise rep.error(f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise rep.error(f"not UTF-8 text (byte {exc.start})") from None
    try:
        # libyaml where it reads as the round-trip loader would (lines included): the
        # golden state's files were most of its load time in pure Python.
        return [d for d in load_all_with_lines(text) if d is not None]
    except Exception as exc:
        problem = yaml_problem(exc)
        if problem is None:
            raise
        if problem.marked:
            raise rep.error(f"invalid YAML: {problem.problem}", line=problem.line) from None
        raise rep.error(f"invalid YAML: {problem.message}") from None
