"""The two faces of one Event: core ``v1`` and ``events.k8s.io/v1``.

A real API server keeps both in the same storage and converts on read, so
``kubectl get events --field-selector involvedObject.name=x`` finds events a
controller wrote through ``events.k8s.io/v1``. kubesim stores each API's
events apart and, on reads, adds the other API's events converted.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
CORE = ("", "events")
NEW = ("events.k8s.io", "events")

# (events.k8s.io field, core v1 field)
_RENAMES = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
)
_SAME = ("metadata", "reason", "type", "action", "related", "series", "eventTime",
         "reportingInstance")


def other_key(key: tuple[str, str]) -> tuple[str, str] | None:
    """The storage key of the other face of events, or None for other resources."""
    return NEW if key == CORE else CORE if key == NEW else None


def convert(obj: Obj, *, to: tuple[str, str]) -> Obj:
    """An event of one API as the other API shows it."""
    out: Obj = {k: obj[k] for k in _SAME if k in obj}
    for new, core in _RENAMES:
        src, dst = (core, new) if to == NEW else (new, core)
        if src in obj:
            out[dst] = obj[src]
    if to == CORE:
        out["apiVersion"], out["kind"] = "v1", "Event"
        out.setdefault("source", {"component": obj.get("reportingController", "")})
    else:
        out["apiVersion"], out["kind"] = "events.k8s.io/v1", "Event"
    series = out.get("series")
    if to == CORE and isinstance(series, dict):
        out["count"] = series.get("count", out.get("count", 1))
        out["lastTimestamp"] = series.get("lastObservedTime", out.get("lastTimestamp"))
    return out
