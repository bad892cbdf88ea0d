"""The user's customizations of one desired object (contract §4 step 5), without side effects.

Shared by the reconciler (which turns the outcome into metrics and events)
and ``autopilot explain`` (which shows it), so both see the same object.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from autopilot import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.engine import overrides


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
    patch_text = annotations.get(overrides.PATCH)
    if patch_text is not None:
        try:
            desired = overrides.apply_user_patch(desired, str(patch_text), kind=kind)
            active.add("patch")
        except overrides.PatchError as exc:
            patch_error = str(exc)
    ignore_text = annotations.get(overrides.IGNORE_FIELDS)
    invalid: tuple[str, ...] = ()
    if ignore_text is not None:
        result = overrides.apply_ignore_fields(desired, live, str(ignore_text))
        desired = result.desired
        invalid = tuple(result.invalid)
        if result.applied:
            active.add("ignore")
    desired = copy.deepcopy(desired)
    labels = desired.setdefault("metadata", {}).setdefault("labels", {})
    labels[MANAGED_BY_LABEL] = MANAGED_BY_VALUE
    return Customized(
        desired=desired,
        active=frozenset(active),
        patch_error=patch_error,
        patch_text=None if patch_text is None else str(patch_text),
        ignore_text=None if ignore_text is None else str(ignore_text),
        invalid_pointers=invalid,
    )
