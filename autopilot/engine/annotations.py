"""Annotation keys the autopilot reads or writes, and the simple checks on them.

Values are compared after trimming whitespace and ignoring case (``"True"``,
``" unmanaged "``): the safe reading of a near miss is the one that leaves the
object alone, so a user who writes ``reconcile-paused: "True"`` or
``mode: Unmanaged`` gets what they meant. Anything else is "not set".
"""

from __future__ import annotations

from typing import Any

PREFIX = "platform.kubevirt.io/"

# On any managed object.
MODE = PREFIX + "mode"
PATCH = PREFIX + "patch"
IGNORE_FIELDS = PREFIX + "ignore-fields"
RECONCILE_PAUSED = PREFIX + "reconcile-paused"
FORCE_RECONCILE = PREFIX + "force-reconcile"

# On the HCO.
AUTOPILOT = PREFIX + "autopilot"
DISABLED_RESOURCES = PREFIX + "disabled-resources"

UNMANAGED = "unmanaged"


def annotations_of(obj: dict[str, Any] | None) -> dict[str, Any]:
    """The object's annotations, or ``{}`` when it has none (or is malformed)."""
    if not isinstance(obj, dict):
        return {}
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return {}
    annotations = meta.get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def annotation(obj: dict[str, Any] | None, key: str) -> str | None:
    """The annotation ``key`` as a string, or None when absent or not a string."""
    value = annotations_of(obj).get(key)
    return value if isinstance(value, str) else None


def _is(value: str | None, expected: str) -> bool:
    return value is not None and value.strip().lower() == expected


def is_unmanaged(obj: dict[str, Any] | None) -> bool:
    """True when ``platform.kubevirt.io/mode`` is ``unmanaged`` (case-insensitive)."""
    return _is(annotation(obj, MODE), UNMANAGED)


def is_paused(obj: dict[str, Any] | None) -> bool:
    """True when ``platform.kubevirt.io/reconcile-paused`` is ``true`` (case-insensitive)."""
    return _is(annotation(obj, RECONCILE_PAUSED), "true")
