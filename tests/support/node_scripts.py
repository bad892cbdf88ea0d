"""Load the node-side scripts of the golden state and build fake node trees for them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[2] / "golden_state" / "files" / "scripts"


def load_script(name: str) -> ModuleType:
    """Import ``golden_state/files/scripts/<name>.py`` as a fresh module."""
    path = SCRIPTS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"golden_script_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def write(root: Path, path: str, content: str) -> Path:
    """Create ``root/path`` (an absolute node path) with ``content``."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    return target


def read(root: Path, path: str) -> str:
    """Read a node path under ``root``."""
    return (root / path.lstrip("/")).read_text()


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its content, to prove nothing was written."""
    return {
        str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()
    }
