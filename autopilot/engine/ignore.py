"""The ``platform.kubevirt.io/ignore-fields`` annotation: keep the live value.

The annotation is a comma-separated list of RFC 6901 pointers (a comma inside
a member name therefore cannot be expressed). For each valid pointer:

* present in live: desired gets live's value there (deep-copied), creating
  intermediate containers of live's type as needed;
* absent in live: removed from desired (if present).

Arrays: an index beyond the end of desired's array is reached by filling the
gap with live's elements, so the kept region mirrors live exactly. Removals
run after all copies, deepest and highest index first, so several indices of
one array refer to its original positions.

Pointers that are not RFC 6901 pointers (no leading ``/``, bad ``~`` escape)
are invalid. So are pointers at, under or above identity or server-managed
fields (``/apiVersion``, ``/kind``, ``/metadata/name``, ``/metadata/namespace``,
``/metadata/managedFields``, ``/metadata/resourceVersion``, ``/metadata/uid``,
...) and ``/status``: copying those into an apply body would change what the
request means or make the API server reject it. Invalid pointers are reported
and skipped; the rest still apply. This function never raises.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Final

from autopilot.engine.pointers import (
    PointerSyntaxError,
    Segments,
    array_index,
    parse_pointer,
    touches,
)

NOT_IGNORABLE: Final[tuple[Segments, ...]] = (
    ("apiVersion",),
    ("kind",),
    ("status",),
    *(
        ("metadata", key)
        for key in (
            "name",
            "namespace",
            "managedFields",
            "resourceVersion",
            "uid",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        )
    ),
)


@dataclass
class IgnoreResult:
    """Outcome of :func:`apply_ignore_fields`."""

    desired: dict[str, Any]
    invalid: list[str] = field(default_factory=list)  # pointers skipped, as written
    applied: list[str] = field(default_factory=list)  # valid pointers, as written
    errors: list[str] = field(default_factory=list)  # one line per invalid pointer: why


_MISSING: Final = object()


def apply_ignore_fields(
    desired: dict[str, Any], live: dict[str, Any] | None, annotation: str
) -> IgnoreResult:
    """Return a copy of ``desired`` where every listed pointer keeps live's state."""
    result = IgnoreResult(desired=copy.deepcopy(desired))
    if not isinstance(annotation, str):
        return result
    if not isinstance(live, dict):
        live = None  # nothing is present in live: every pointer removes
    removals: list[Segments] = []
    for raw in annotation.split(","):
        text = raw.strip()
        if not text:
            continue
        problem = ""
        segments: Segments = ()
        try:
            segments = parse_pointer(text)
        except PointerSyntaxError as exc:
            problem = str(exc)
        if not problem and touches(segments, NOT_IGNORABLE) is not None:
            problem = f"{text!r} is an identity or server-managed field"
        if problem:
            result.invalid.append(text)
            result.errors.append(problem)
            continue
        result.applied.append(text)
        value = _lookup(live, segments)
        if value is _MISSING:
            removals.append(segments)
        else:
            _place(result.desired, live, segments, value)
    for segments in sorted(removals, key=_removal_order, reverse=True):
        _remove(result.desired, segments)
    return result


def _lookup(doc: Any, segments: Segments) -> Any:
    for s in segments:
        if isinstance(doc, dict):
            if s not in doc:
                return _MISSING
            doc = doc[s]
        elif isinstance(doc, list):
            i = array_index(s)
            if i is None or i >= len(doc):
                return _MISSING
            doc = doc[i]
        else:
            return _MISSING
    return doc


def _empty_like(value: Any) -> Any:
    return [] if isinstance(value, list) else {}


def _place(doc: dict[str, Any], live: Any, segments: Segments, value: Any) -> None:
    """Set ``value`` at ``segments`` in ``doc``; live's path is known to exist."""
    container: Any = doc
    live_node: Any = live
    for depth, s in enumerate(segments):
        last = depth == len(segments) - 1
        live_child = _lookup(live_node, (s,))
        new = copy.deepcopy(value) if last else _MISSING
        if isinstance(live_node, list):
            i = array_index(s)
            if i is None:  # cannot happen: _lookup on live succeeded
                return
            while len(container) < i:
                container.append(copy.deepcopy(live_node[len(container)]))
            if len(container) == i:
                container.append(new if last else _empty_like(live_child))
            elif last:
                container[i] = new
            elif not _same_container(container[i], live_child):
                container[i] = _empty_like(live_child)
            child = container[i]
        else:
            if last:
                container[s] = new
            elif not _same_container(container.get(s, _MISSING), live_child):
                container[s] = _empty_like(live_child)
            child = container[s]
        container, live_node = child, live_child


def _same_container(a: Any, b: Any) -> bool:
    return (isinstance(a, dict) and isinstance(b, dict)) or (
        isinstance(a, list) and isinstance(b, list)
    )


def _remove(doc: Any, segments: Segments) -> None:
    if not segments:
        return
    parent = _lookup(doc, segments[:-1])
    last = segments[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list):
        i = array_index(last)
        if i is not None and i < len(parent):
            del parent[i]


def _removal_order(segments: Segments) -> tuple[tuple[int, int, str], ...]:
    # Numeric tokens compare as numbers so /a/10 is removed before /a/9.
    return tuple(
        (1, i, "") if (i := array_index(s)) is not None else (0, 0, s) for s in segments
    )
