"""Reading CRD manifests from folders (YAML or JSON, several documents per file)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError


class ManifestError(ValueError):
    """A manifest file could not be read (message names the file)."""


def load_documents(path: Path) -> list[dict[str, Any]]:
    """Every mapping document in a YAML/JSON file (fresh objects: callers may change them)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc}") from exc
    return json.loads(_parsed(str(path), stat.st_mtime_ns, stat.st_size))  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=512)
def _parsed(path: str, mtime_ns: int, size: int) -> str:
    """The file's mapping documents as JSON text, parsed once per file version.

    The pure-Python YAML parser takes about a second for a large CRD on a busy
    machine, and test harnesses load the same published CRDs over and over;
    decoding JSON is a hundred times faster and gives each caller its own copy.
    """
    yaml = YAML(typ="safe", pure=True)
    try:
        docs = list(yaml.load_all(Path(path).read_text()))
    except (OSError, YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ManifestError(f"{path}: cannot read: {first}") from exc
    return json.dumps([d for d in docs if isinstance(d, dict)])


def crd_files(paths: Iterable[str | Path]) -> list[Path]:
    """Manifest files in ``paths`` (folders are searched recursively, sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml", ".json"))
        elif p.is_file():
            out.append(p)
        else:
            raise ManifestError(f"{p}: no such file or directory")
    return out


def load_crds(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """CustomResourceDefinition documents found in ``paths``."""
    crds: list[dict[str, Any]] = []
    for f in crd_files(paths):
        crds += [d for d in load_documents(f) if d.get("kind") == "CustomResourceDefinition"]
    return crds
