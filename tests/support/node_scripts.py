"""Load the node-side scripts of the golden state and build fake node trees for them."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

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


# Far in the past, so that any write by the run under test shows as a newer time.
_UNTOUCHED_NS = 10**9


def assert_rerun_writes_nothing(script: Any, root: Path, **run_kw: Any) -> None:
    """Run ``script`` again on a node it already set up: it reports no change (0) and
    writes no file, not even one with the same content (every file's time is set back
    first, so a rewrite shows)."""
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()]
    for path in files:
        os.utime(path, ns=(_UNTOUCHED_NS, _UNTOUCHED_NS))
    before = snapshot(root)
    assert script.run(root=str(root), dry_run=False, **run_kw) == 0, "the second run changed"
    assert snapshot(root) == before, "the second run changed file contents"
    rewritten = [str(p.relative_to(root)) for p in files if p.stat().st_mtime_ns != _UNTOUCHED_NS]
    assert rewritten == [], f"the second run rewrote {rewritten}"


def dry_run_output(script: Any, root: Path, capsys: Any) -> str:
    """Run ``script --root ROOT --dry-run``: it succeeds and writes nothing; its output."""
    before = snapshot(root)
    assert script.main(["--root", str(root), "--dry-run"]) == 0
    assert snapshot(root) == before, "the dry run wrote to the node"
    return str(capsys.readouterr().out)
