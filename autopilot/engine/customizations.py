"""Which user customizations an object carries (for ``customization_info``).

Presence only: whether a patch or ignore list is *valid* is decided by the
reconciler when it applies them (:mod:`autopilot.engine.overrides`).
"""

from __future__ import annotations

from typing import Any

from autopilot.engine.annotations import IGNORE_FIELDS, PATCH, annotations_of, is_unmanaged

TYPES = ("patch", "ignore", "unmanaged")


def customizations_of(live: dict[str, Any] | None) -> dict[str, bool]:
    """``{"patch": ..., "ignore": ..., "unmanaged": ...}`` for the live object."""
    annotations = annotations_of(live)
    return {
        "patch": PATCH in annotations,
        "ignore": IGNORE_FIELDS in annotations,
        "unmanaged": is_unmanaged(live),
    }
