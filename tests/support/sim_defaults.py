"""kubesim's built-in defaulting, called by group and kind the way recordings name objects."""

from __future__ import annotations

import copy
from typing import Any

from kubesim.defaults import apply_builtin_defaults
from kubesim.types import builtin_types

_PLURALS = {(t.group, t.kind): t.plural for t in builtin_types()}


def server_defaults(group: str, version: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A defaulted copy of ``obj``: what kubesim's writes store for a built-in kind."""
    del version  # every built-in kind kubesim serves has one version
    return apply_builtin_defaults((group, _PLURALS[(group, kind)]), copy.deepcopy(obj))
