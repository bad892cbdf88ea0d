"""Field-by-field differences between our objects and the reference operator's.

Objects are compared as JSON trees. Mappings are walked key by key; a list whose
items are all mappings carrying one naming key (``name``, ``path``, ``alert``,
``record``, ``type`` …) is walked item by item under that key, so a path reads
``spec.config.storage.files[path=/etc/x].mode`` and stays the same when items move;
any other list is compared whole. A MachineConfig file's gzip ``data:`` URL is
decoded first, so a difference names the file and shows its text.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

# Keys that name an item of a list of mappings, most specific first.
ITEM_KEYS = ("path", "alert", "record", "name", "type", "kind")
# Set by the server on every object: never part of the content (the reference's export
# dropped them too).
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields")
# Allocated by the server, different on every cluster: (kind, top-level field, key).
ALLOCATED = (("Service", "spec", "clusterIP"), ("Service", "spec", "clusterIPs"))
MISSING = "(absent)"


@dataclass(frozen=True, slots=True)
class Difference:
    """One field where the two objects disagree (``MISSING`` where one lacks it)."""

    kind: str
    name: str
    path: str
    ours: str
    theirs: str

    @property
    def key(self) -> tuple[str, str, str]:
        """What a row of the table names: kind, name and path."""
        return (self.kind, self.name, self.path)


def object_key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    """(kind, namespace, name) of an object."""
    meta = obj.get("metadata") or {}
    return (str(obj["kind"]), str(meta.get("namespace") or ""), str(meta["name"]))


def load_reference(folder: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The reference's objects (``objects/<Kind>/<ns or _cluster>_<name>.json``) by key."""
    out = {}
    for path in sorted(folder.rglob("*.json")):
        obj = json.loads(path.read_text(encoding="utf-8"))
        out[object_key(obj)] = obj
    return out


def comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object without status and server-set metadata (what the reference kept)."""
    out = json.loads(json.dumps(obj))
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for field in SERVER_FIELDS:
        meta.pop(field, None)
    for kind, top, key in ALLOCATED:
        if out.get("kind") == kind:
            (out.get(top) or {}).pop(key, None)
    return dict(out)


def _item_key(*sides: list[Any]) -> str | None:
    """The first naming key that names every item of each side, uniquely within it."""
    if not any(sides) or not all(isinstance(i, Mapping) for side in sides for i in side):
        return None
    for key in ITEM_KEYS:
        if all(all(isinstance(i.get(key), str) for i in side)
               and len({i[key] for i in side}) == len(side) for side in sides):
            return key
    return None


def _decoded(value: Any) -> Any:
    """The text of a gzip/base64 ``data:`` URL (Ignition file contents), else the value."""
    if not isinstance(value, str) or not value.startswith("data:"):
        return value
    header, _, payload = value.partition(",")
    raw = base64.b64decode(payload) if header.endswith(";base64") else unquote(payload).encode()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", errors="replace")


def _show(value: Any) -> str:
    if value is MISSING:
        return str(MISSING)
    shown: str = json.dumps(_decoded(value), sort_keys=True)
    return shown


def _walk(ours: Any, theirs: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(ours, Mapping) and isinstance(theirs, Mapping):
        for key in sorted(set(ours) | set(theirs)):
            sub = f"{path}.{key}" if path else str(key)
            yield from _walk(ours.get(key, MISSING), theirs.get(key, MISSING), sub)
        return
    if isinstance(ours, list) and isinstance(theirs, list):
        key = _item_key(ours, theirs)
        if key is not None:
            mine = {i[key]: i for i in ours}
            other = {i[key]: i for i in theirs}
            for name in sorted(set(mine) | set(other)):
                yield from _walk(mine.get(name, MISSING), other.get(name, MISSING),
                                 f"{path}[{key}={name}]")
            return
    if _decoded(ours) != _decoded(theirs):
        yield path, ours, theirs


def differences(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[Difference]:
    """Every field where two objects of the same kind and name disagree."""
    kind, namespace, name = object_key(theirs)
    shown = f"{namespace}/{name}" if namespace else name
    return [Difference(kind, shown, path, _show(a), _show(b))
            for path, a, b in _walk(comparable(ours), comparable(theirs), "")]


# --- The table of differences (golden_state/REFERENCE.md) ------------------------------

OBJECT = "(object)"  # a row's path when the object exists on one side only


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the table: a field (or a whole subtree, or a whole object) that differs."""

    kind: str
    name: str
    path: str
    ours: str
    theirs: str
    why: str
    source: str
    line: int

    def covers(self, diff: Difference) -> bool:
        """Whether this row names ``diff``: the same field or a subtree holding it.

        A row named ``*`` stands for every object of its kind (one reason for many).
        """
        if self.kind != diff.kind or self.name not in ("*", diff.name):
            return False
        if self.path == diff.path:
            return True
        return diff.path.startswith(self.path) and diff.path[len(self.path)] in ".["


class TableError(ValueError):
    """The table is malformed; the message names the line."""


def _cells(line: str) -> list[str]:
    """A Markdown table line's cells; ``\\|`` is a pipe inside a cell."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def _plain(cell: str) -> str:
    return cell.strip().strip("`").strip()


def parse_table(text: str) -> list[Row]:
    """The rows of the first table whose header starts ``| object | path |``."""
    rows: list[Row] = []
    in_table = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("|"):
            if in_table:
                break
            continue
        cells = _cells(line)
        if not in_table:
            in_table = [c.lower() for c in cells[:2]] == ["object", "path"]
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        if len(cells) != 6:
            raise TableError(f"line {number}: {len(cells)} cells, want 6")
        obj, path, ours, theirs, why, source = cells
        kind, _, name = _plain(obj).partition(" ")
        if not (kind and name and _plain(path) and why and source):
            raise TableError(f"line {number}: object, path, why and source are required")
        rows.append(Row(kind, name.strip(), _plain(path), ours, theirs, why, source, number))
    if not rows:
        raise TableError("no table with the header '| object | path | ...' found")
    return rows


def literal(cell: str) -> str | None:
    """A cell written as one backticked JSON value, in :func:`_show`'s spelling; else None."""
    cell = cell.strip()
    if not (cell.startswith("`") and cell.endswith("`") and cell.count("`") == 2):
        return None
    try:
        return json.dumps(json.loads(cell[1:-1]), sort_keys=True)
    except ValueError:
        return None
