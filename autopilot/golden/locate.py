"""Find the golden state shipped with the project (source checkout or installed wheel)."""

from __future__ import annotations

import sys
from pathlib import Path

# A source checkout keeps golden_state/ beside the package; a wheel installs it as
# data files under <prefix>/share/virt-platform-autopilot/golden_state.
_SHARE_SUBDIR = Path("share") / "virt-platform-autopilot" / "golden_state"


def candidate_dirs() -> list[Path]:
    """Places searched for the default golden state, in order."""
    package_dir = Path(__file__).resolve().parent.parent
    return [
        package_dir.parent / "golden_state",
        Path(sys.prefix) / _SHARE_SUBDIR,
        Path(sys.base_prefix) / _SHARE_SUBDIR,
    ]


def default_golden_state_dir() -> Path:
    """The first candidate directory that holds a golden state (has a ``catalog/`` folder).

    Falls back to the source-checkout location so error messages name a sensible path.
    """
    candidates = candidate_dirs()
    for path in candidates:
        if (path / "catalog").is_dir():
            return path
    return candidates[0]


def resolve_golden_state_dir(path: str | Path | None) -> Path:
    """``path`` when given, else the default golden state."""
    return Path(path) if path else default_golden_state_dir()
