"""User overrides of the golden state, in one place for the reconciler.

Re-exports the annotation keys and checks, the JSON Patch, ignore-fields and
disabled-resources handling from their modules.
"""

from __future__ import annotations

from autopilot.engine.annotations import (
    AUTOPILOT,
    DISABLED_RESOURCES,
    FORCE_RECONCILE,
    IGNORE_FIELDS,
    MODE,
    PATCH,
    RECONCILE_PAUSED,
    annotation,
    annotations_of,
    is_paused,
    is_unmanaged,
)
from autopilot.engine.customize import customizations_of
from autopilot.engine.exclusions import (
    Exclusion,
    ExclusionError,
    is_excluded,
    parse_disabled_resources,
)
from autopilot.engine.ignore import IgnoreResult, apply_ignore_fields
from autopilot.engine.patch import (
    PROTECTED_PATHS,
    SENSITIVE_KINDS,
    PatchError,
    apply_user_patch,
)

__all__ = [
    "AUTOPILOT",
    "DISABLED_RESOURCES",
    "FORCE_RECONCILE",
    "IGNORE_FIELDS",
    "MODE",
    "PATCH",
    "PROTECTED_PATHS",
    "RECONCILE_PAUSED",
    "SENSITIVE_KINDS",
    "Exclusion",
    "ExclusionError",
    "IgnoreResult",
    "PatchError",
    "annotation",
    "annotations_of",
    "apply_ignore_fields",
    "apply_user_patch",
    "customizations_of",
    "is_excluded",
    "is_paused",
    "is_unmanaged",
    "parse_disabled_resources",
]
