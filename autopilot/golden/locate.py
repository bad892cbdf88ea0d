"""Find the golden state shipped with the project (source checkout or installed wheel)."""

from __future__ import annotations

from pathlib import Path

# A source checkout keeps golden_state/ beside the package; the wheel ships it inside
# the package (autopilot/golden_state, copied there by the build hook in setup.py).
_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def candidate_dirs() -> list[Path]:
    """Places searched for the default golden state, in order."""
    return [_PACKAGE_DIR.parent / "golden_state", _PACKAGE_DIR / "golden_state"]


def source_checkout() -> Path:
    """The source checkout this package runs from (where ``autopilot csv`` writes)."""
    return _PACKAGE_DIR.parent


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
