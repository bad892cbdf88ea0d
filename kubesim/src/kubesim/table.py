"""Server-side printing: ``as=Table`` and ``as=PartialObjectMetadata(List)``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubesim.types import ResourceType

Obj = dict[str, Any]
META_API = "meta.k8s.io/v1"

_NAME_COL = {"name": "Name", "type": "string", "format": "name",
             "description": "Name must be unique within a namespace.", "priority": 0}
_AGE_COL = {"name": "Age", "type": "string", "format": "",
            "description": "CreationTimestamp is a timestamp representing the server time when "
                           "this object was created.", "priority": 0}


def _col(name: str, kind: str = "string", priority: int = 0, description: str = "") -> Obj:
    return {"name": name, "type": kind, "format": "", "description": description,
            "priority": priority}


def age(created: str | None) -> str:
    """kubectl-style age (``5s``, ``3m12s``, ``4h``, ``2d``)."""
    if not created:
        return "<unknown>"
    try:
        then = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return "<unknown>"
    secs = max(0, int((dt.datetime.now(dt.UTC) - then).total_seconds()))
    if secs < 120:
        return f"{secs}s"
    mins = secs // 60
    if mins < 10:
        return f"{mins}m{secs % 60}s" if secs % 60 else f"{mins}m"
    if mins < 180:
        return f"{mins}m"
    hours = mins // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _jsonpath(obj: Any, path: str) -> Any:
    cur = obj
    for seg in [s for s in path.strip().lstrip("$").split(".") if s]:
        if isinstance(cur, dict):
            cur = cur.get(seg)
        else:
            return None
    return cur


def _ports(svc: Obj) -> str:
    ports = (svc.get("spec") or {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


_EVENT_KEYS = (("", "events"), ("events.k8s.io", "events"))


def _event_columns() -> list[Obj]:
    # The real printer for events: what happened, to what, and when it was last seen.
    return [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message"),
            {**_NAME_COL, "priority": 1}]


def _event_cells(obj: Obj) -> list[Any]:
    ref = obj.get("involvedObject") or obj.get("regarding") or {}
    series = obj.get("series") or {}
    last = (series.get("lastObservedTime") or obj.get("lastTimestamp")
            or obj.get("deprecatedLastTimestamp") or obj.get("eventTime")
            or (obj.get("metadata") or {}).get("creationTimestamp"))
    when = str(last)[:19] + "Z" if last else None
    return [age(when), obj.get("type", ""), obj.get("reason", ""),
            f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}",
            obj.get("message", obj.get("note", "")), (obj.get("metadata") or {}).get("name", "")]


def columns(rtype: ResourceType, version: str) -> list[Obj]:
    """Column definitions for a type."""
    if rtype.key in _EVENT_KEYS:
        return _event_columns()
    extra: list[Obj]
    if rtype.crd_name:
        extra = [_col(c["name"], c.get("type", "string"), int(c.get("priority", 0)),
                      c.get("description", "")) for c in rtype.printer_columns.get(version, [])]
    else:
        extra = {
            ("", "namespaces"): [_col("Status")],
            ("", "configmaps"): [_col("Data")],
            ("", "secrets"): [_col("Type"), _col("Data")],
            ("", "services"): [_col("Type"), _col("Cluster-IP"), _col("External-IP"),
                               _col("Port(s)")],
            ("", "nodes"): [_col("Status"), _col("Roles")],
        }.get(rtype.key, [])
    return [dict(_NAME_COL), *extra, dict(_AGE_COL)]


def cells(rtype: ResourceType, version: str, obj: Obj) -> list[Any]:
    """One row's cells, matching :func:`columns`."""
    if rtype.key in _EVENT_KEYS:
        return _event_cells(obj)
    meta = obj.get("metadata") or {}
    out: list[Any] = [meta.get("name", "")]
    if rtype.crd_name:
        for c in rtype.printer_columns.get(version, []):
            value = _jsonpath(obj, str(c.get("jsonPath", "")))
            out.append("" if value is None else value)
    elif rtype.key == ("", "namespaces"):
        out.append((obj.get("status") or {}).get("phase", "Active"))
    elif rtype.key == ("", "configmaps"):
        out.append(len(obj.get("data") or {}) + len(obj.get("binaryData") or {}))
    elif rtype.key == ("", "secrets"):
        out += [obj.get("type", "Opaque"), len(obj.get("data") or {})]
    elif rtype.key == ("", "services"):
        spec = obj.get("spec") or {}
        out += [spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"), "<none>",
                _ports(obj)]
    elif rtype.key == ("", "nodes"):
        labels = meta.get("labels") or {}
        roles = sorted(k.split("/", 1)[1] for k in labels
                       if k.startswith("node-role.kubernetes.io/"))
        ready = next((c for c in (obj.get("status") or {}).get("conditions") or []
                      if c.get("type") == "Ready"), None)
        state = "Unknown" if ready is None else \
            "Ready" if ready.get("status") == "True" else "NotReady"
        out += [state, ",".join(roles) or "<none>"]
    out.append(age(meta.get("creationTimestamp")))
    return out


def partial(obj: Obj) -> Obj:
    """``PartialObjectMetadata`` of an object."""
    return {"kind": "PartialObjectMetadata", "apiVersion": META_API,
            "metadata": obj.get("metadata") or {}}


def table(rtype: ResourceType, version: str, objs: list[Obj], list_meta: Obj) -> Obj:
    """A ``Table`` of objects (rows carry PartialObjectMetadata)."""
    return {
        "kind": "Table",
        "apiVersion": META_API,
        "metadata": list_meta,
        "columnDefinitions": columns(rtype, version),
        "rows": [{"cells": cells(rtype, version, o), "object": partial(o)} for o in objs],
    }


def wanted_form(accept: str) -> str:
    """``table``, ``partial``, ``partial-list`` or ``json`` from an Accept header."""
    for alt in accept.split(","):
        params = {}
        for piece in alt.split(";")[1:]:
            k, _, v = piece.strip().partition("=")
            params[k] = v
        as_ = params.get("as")
        if as_ == "Table":
            return "table"
        if as_ == "PartialObjectMetadataList":
            return "partial-list"
        if as_ == "PartialObjectMetadata":
            return "partial"
        if alt.split(";")[0].strip() in ("application/json", "*/*", ""):
            return "json"
    return "json"
