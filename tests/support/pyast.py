"""``ast.parse`` for tests that read the project's own source.

CPython 3.11 before 3.11.8 keeps the AST constructor's recursion depth in state
shared by every thread, so a parse that overlaps another thread's use of the
``ast`` module (a controller or renderer thread of an earlier test in the same
worker) can fail with ``SystemError: AST constructor recursion depth mismatch``
(python/cpython#106905). The text parsed is fine; parsing it again succeeds.
"""

from __future__ import annotations

import ast
from typing import Any

ATTEMPTS = 3


def parse(source: str, **kwargs: Any) -> ast.Module:
    """``ast.parse(source, **kwargs)``, again when the interpreter's race above hits."""
    for attempt in range(ATTEMPTS):
        try:
            return ast.parse(source, **kwargs)
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc) or attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
