"""A unified diff of two objects as YAML, for a person to read (``plan``, ``run --observe``).

Both sides are compared as given: callers pass them through
:func:`autopilot.engine.drift.normalise_for_compare` first, so status and
server-managed metadata (``managedFields``, ``resourceVersion``, ...) stay out.
"""

from __future__ import annotations

import difflib
from typing import Any

from autopilot.golden.templating import to_yaml


def _lines(obj: dict[str, Any] | None) -> list[str]:
    return [] if obj is None else (to_yaml(obj) + "\n").splitlines(keepends=True)


def unified_diff(before: dict[str, Any] | None, after: dict[str, Any] | None,
                 *, title: str) -> str:
    """``--- live/TITLE`` / ``+++ applied/TITLE`` hunks ("" when both sides are equal)."""
    return "".join(difflib.unified_diff(_lines(before), _lines(after),
                                        fromfile=f"live/{title}", tofile=f"applied/{title}"))
