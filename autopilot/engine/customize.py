"""The user's customizations of one desired object (contract §4 step 5), without side effects.

Shared by the object pass (which turns the outcome into metrics and events)
and ``autopilot explain`` (which shows it), so both see the same object.
:func:`customizations_of` tells presence only; whether a patch or an ignore
list is *valid* is decided by :func:`customize` when it applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autopilot import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.engine.annotations import IGNORE_FIELDS, PATCH, annotations_of, is_unmanaged
from autopilot.engine.ignore import apply_ignore_fields
from autopilot.engine.patch import PatchError, apply_user_patch
from autopilot.observability.metrics import (
    CUSTOMIZATION_IGNORE,
    CUSTOMIZATION_PATCH,
    CUSTOMIZATION_UNMANAGED,
)


@dataclass(frozen=True)
class Customized:
    """The desired object after patch and ignore-fields, and what happened on the way."""

    desired: dict[str, Any]
    active: frozenset[str] = frozenset()
    patch_error: str = ""
    patch_text: str | None = None
    ignore_text: str | None = None
    invalid_pointers: tuple[str, ...] = field(default_factory=tuple)


def customize(desired: dict[str, Any], live: dict[str, Any] | None, *, kind: str) -> Customized:
    """Apply the live object's ``patch`` then ``ignore-fields``, and add the ownership label."""
    annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    active: set[str] = set()
    patch_error = ""
    patch_text = annotations.get(PATCH)
    if patch_text is not None:
        try:
            desired = apply_user_patch(desired, str(patch_text), kind=kind)
            active.add(CUSTOMIZATION_PATCH)
        except PatchError as exc:
            patch_error = str(exc)
    ignore_text = annotations.get(IGNORE_FIELDS)
    invalid: tuple[str, ...] = ()
    if ignore_text is not None:
        result = apply_ignore_fields(desired, live, str(ignore_text))
        desired = result.desired
        invalid = tuple(result.invalid)
        if result.applied:
            active.add(CUSTOMIZATION_IGNORE)
    # The ownership label on copies of the path to it; the rest is shared with the
    # render, which no pass writes to (a deep copy cost each pass more than its verdict).
    meta = dict(desired.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    desired = {**desired, "metadata": meta}
    return Customized(
        desired=desired,
        active=frozenset(active),
        patch_error=patch_error,
        patch_text=None if patch_text is None else str(patch_text),
        ignore_text=None if ignore_text is None else str(ignore_text),
        invalid_pointers=invalid,
    )


def customizations_of(live: dict[str, Any] | None) -> dict[str, bool]:
    """Which customizations the live object carries, by ``customization_info`` type."""
    annotations = annotations_of(live)
    return {
        CUSTOMIZATION_PATCH: PATCH in annotations,
        CUSTOMIZATION_IGNORE: IGNORE_FIELDS in annotations,
        CUSTOMIZATION_UNMANAGED: is_unmanaged(live),
    }
