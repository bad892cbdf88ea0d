"""Owner flips: who took the fields our Golden State sets (pure, no I/O).

Server-Side Apply records, in ``metadata.managedFields``, which field manager
owns which field. When another client changes a field we applied, the API
server moves that field out of our ``Apply`` entry:

* a merge, JSON or strategic patch, or an update (PUT), puts it into that
  client's ``Update`` entry (``kubectl patch`` is the manager ``kubectl-patch``,
  ``kubectl edit`` is ``kubectl-edit``, other clients default to their
  User-Agent);
* a forced server-side apply puts it into that manager's ``Apply`` entry;
* a removal takes it out of our entry and puts it nowhere: managedFields does
  not record who removes a field. The most recent other entry (by ``time``)
  is then the best lead, and is reported as such, never as certain.

Our forced dry run (the drift check) answers with the managedFields the object
would have after our apply, so its ``Apply`` entry for our manager lists every
field we set. A field in that list which the live object no longer counts as
ours was taken (or removed) since our last write: correcting it is an *owner
flip*. Drift from our own desired object changing (an HCO edit, a new golden
state) is not a flip: the live fields are still ours, only their values
differ, and a field we never owned before is new, not taken back.

Paths are the raw ``fieldsV1`` keys (``f:spec``, ``k:{"port":8080}``, ``v:"x"``,
``i:0``); :func:`readable` turns them into ``spec.ports[port=8080].name``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

FieldPath = tuple[str, ...]

# How a writer is known: it owns the fields now, or it is only the latest other writer
# of an object whose fields were removed (managedFields does not record removals).
OWNS: Final = "owns"
LATEST: Final = "latest-writer"
UNKNOWN: Final = "unknown"

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]+")
FIELDS_SHOWN: Final = 5


@dataclass(frozen=True, slots=True)
class Entry:
    """One managedFields entry, its fields flattened to paths."""

    manager: str
    operation: str
    time: str
    subresource: str
    fields: frozenset[FieldPath]


@dataclass(frozen=True, slots=True)
class Writer:
    """Another writer of fields we set: manager, operation and the fields fought over."""

    manager: str
    operation: str
    fields: tuple[str, ...]
    evidence: str = OWNS
    time: str = ""

    def describe(self, *, limit: int = FIELDS_SHOWN) -> str:
        """One line, e.g. ``kubectl-patch (Update) over spec.selector``."""
        shown = ", ".join(self.fields[:limit])
        if len(self.fields) > limit:
            shown += f" and {len(self.fields) - limit} more"
        who = f"{self.manager} ({self.operation})" if self.manager else "an unknown client"
        if self.evidence == OWNS:
            return f"{who} over {shown}"
        if self.evidence == LATEST:
            return (f"{who}, the latest other writer, probably removed {shown} "
                    "(managedFields does not record removals)")
        return f"{who} removed {shown}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for logs and the debug view."""
        return {"manager": self.manager, "operation": self.operation,
                "fields": list(self.fields), "evidence": self.evidence}


@dataclass(frozen=True, slots=True)
class Contest:
    """The fields another writer took from us since our last write, and who took them."""

    writers: tuple[Writer, ...]

    @property
    def managers(self) -> tuple[str, ...]:
        """Names of the other managers (unknown ones left out), most recent first."""
        return tuple(dict.fromkeys(w.manager for w in self.writers if w.manager))

    def describe(self) -> str:
        """Every writer on one line, most recent first."""
        return "; ".join(w.describe() for w in self.writers)


def field_paths(fields_v1: Any) -> frozenset[FieldPath]:
    """Flatten a ``fieldsV1`` tree into the set of owned paths.

    A leaf (``{}``) is an owned field; a ``"."`` member marks a node that also
    has owned children as owned itself. The server writes a node whose owned
    children are all gone as a leaf, so both mean the same: the path is owned,
    and its children only when they are listed too.
    """
    out: set[FieldPath] = set()
    stack: list[tuple[Any, FieldPath]] = [(fields_v1, ())]
    while stack:
        node, prefix = stack.pop()
        if not isinstance(node, Mapping) or not node:
            if prefix:
                out.add(prefix)
            continue
        for key, child in node.items():
            if key == ".":
                if prefix:
                    out.add(prefix)
            else:
                stack.append((child, (*prefix, str(key))))
    return frozenset(out)


def _raw_entries(obj: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The well-formed managedFields entries of ``obj``, unparsed."""
    meta = (obj or {}).get("metadata")
    raw = meta.get("managedFields") if isinstance(meta, Mapping) else None
    return [item for item in raw if isinstance(item, Mapping)] if isinstance(raw, list) else []


def _entry(item: Mapping[str, Any]) -> Entry:
    return Entry(
        manager=str(item.get("manager") or ""),
        operation=str(item.get("operation") or ""),
        time=str(item.get("time") or ""),
        subresource=str(item.get("subresource") or ""),
        fields=field_paths(item.get("fieldsV1")),
    )


def _fields_of(obj: Mapping[str, Any] | None, manager: str, *,
               operation: str | None = None) -> frozenset[FieldPath]:
    """The fields of ``manager``'s entries (of ``operation`` when given; subresources
    left out). Only those entries' fields are parsed: other managers' may be large."""
    owned: set[FieldPath] = set()
    for item in _raw_entries(obj):
        if (str(item.get("manager") or "") == manager and not item.get("subresource")
                and (operation is None or item.get("operation") == operation)):
            owned |= field_paths(item.get("fieldsV1"))
    return frozenset(owned)


def owned_by(obj: Mapping[str, Any] | None, manager: str) -> frozenset[FieldPath]:
    """Every field ``manager`` owns in ``obj`` (any operation; subresources left out)."""
    return _fields_of(obj, manager)


def applied_by(obj: Mapping[str, Any] | None, manager: str) -> frozenset[FieldPath]:
    """The fields of ``manager``'s ``Apply`` entry: what its server-side apply sets."""
    return _fields_of(obj, manager, operation="Apply")


def contest(
    *,
    live: Mapping[str, Any],
    dry_run: Mapping[str, Any] | None = None,
    manager: str,
    previous: frozenset[FieldPath] | None = None,
    wanted: frozenset[FieldPath] | None = None,
) -> Contest | None:
    """The owner flip about to be corrected, or None when the drift is not one.

    ``dry_run`` is the answer to our forced apply dry run; instead of it, ``wanted``
    may give the fields its Apply entry would list (known from the last apply of
    the same desired object, when the drift is corrected without a dry run); ``previous`` the
    fields we owned after our last apply or in-sync check, when known. A field
    outside ``previous`` is new in the desired state, not taken from us. When
    ``previous`` is unknown (just after a start), a field another manager owns
    is still a flip, but a field missing from the object is not counted: it is
    as likely to be one the desired state has just gained.
    """
    if wanted is None:
        wanted = applied_by(dry_run, manager)
    ours = owned_by(live, manager)
    lost = sorted(p for p in wanted if p not in ours)
    if previous is not None:
        lost = [p for p in lost if _overlaps(p, previous)]
    if not lost:
        return None  # the other managers' fields are read only when a field was lost
    others = [_entry(item) for item in _raw_entries(live)
              if str(item.get("manager") or "") != manager and not item.get("subresource")]
    taken: dict[int, list[FieldPath]] = {}
    removed: list[FieldPath] = []
    for path in lost:
        owners = [i for i, e in enumerate(others) if _overlaps(path, e.fields)]
        for i in owners:
            taken.setdefault(i, []).append(path)
        if not owners and previous is not None:
            removed.append(path)
    writers = [
        Writer(manager=others[i].manager, operation=others[i].operation,
               fields=_shown(paths), evidence=OWNS, time=others[i].time)
        for i, paths in taken.items()
    ]
    if removed:
        writers.append(_remover(others, removed))
    if not writers:
        return None
    writers.sort(key=lambda w: w.time, reverse=True)
    return Contest(writers=tuple(writers))


def _shown(paths: list[FieldPath]) -> tuple[str, ...]:
    """Readable paths; a node's children are left out when the node itself is listed."""
    listed = set(paths)
    kept = [p for p in paths if not any(p[:n] in listed for n in range(1, len(p)))]
    return tuple(readable(p) for p in sorted(kept))


def _remover(others: list[Entry], removed: list[FieldPath]) -> Writer:
    fields = _shown(removed)
    if not others:
        return Writer(manager="", operation="", fields=fields, evidence=UNKNOWN)
    # RFC 3339 times in one format sort as text; ties go to the later entry in the list.
    latest = max(enumerate(others), key=lambda pair: (pair[1].time, pair[0]))[1]
    return Writer(manager=latest.manager, operation=latest.operation, fields=fields,
                  evidence=LATEST, time=latest.time)


def _overlaps(path: FieldPath, owned: frozenset[FieldPath]) -> bool:
    """``owned`` holds ``path`` or something inside it."""
    n = len(path)
    return path in owned or any(len(p) > n and p[:n] == path for p in owned)


def readable(path: FieldPath) -> str:
    """``("f:spec", "f:ports", 'k:{"port":8080}', "f:name")`` -> ``spec.ports[port=8080].name``."""
    out = ""
    for element in path:
        prefix, _, rest = element.partition(":")
        if prefix == "f":
            out += f".{rest}" if _PLAIN_NAME.fullmatch(rest) else f"[{json.dumps(rest)}]"
        elif prefix == "k":
            out += f"[{_key_text(rest)}]"
        elif prefix == "v":
            out += f"[={rest}]"
        elif prefix == "i":
            out += f"[{rest}]"
        else:
            out += f"[{element}]"
    return out.lstrip(".") or "."


def _key_text(raw: str) -> str:
    try:
        key = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(key, dict):
        return raw
    return ",".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in key.items())
