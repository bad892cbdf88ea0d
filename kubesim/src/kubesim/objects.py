"""Object helpers shared by the write paths: version relabelling, no-op detection, key order."""

from __future__ import annotations

from typing import Any

from kubesim.request import ApiRequest

Obj = dict[str, Any]


def as_version(obj: Obj, req: ApiRequest) -> Obj:
    """The stored object as the requested version (CRDs here convert with strategy None)."""
    if obj.get("apiVersion") == req.api_version:
        return obj
    return {**obj, "apiVersion": req.api_version}


def normalise_causes(causes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Status causes with the wire key ``reason`` (also accepting ``type``)."""
    out = []
    for c in causes:
        out.append({"reason": c.get("reason") or c.get("type") or "FieldValueInvalid",
                    "message": c.get("message", ""), "field": c.get("field", "")})
    return out


def _strip_times(managed: Any) -> Any:
    if not isinstance(managed, list):
        return managed
    return [{k: v for k, v in m.items() if k != "time"} if isinstance(m, dict) else m
            for m in managed]


def same_object(old: Obj, new: Obj) -> bool:
    """Equal but for resourceVersion and managedFields timestamps (a no-op write)."""
    if {k: v for k, v in old.items() if k != "metadata"} != \
            {k: v for k, v in new.items() if k != "metadata"}:
        return False
    om, nm = dict(old.get("metadata") or {}), dict(new.get("metadata") or {})
    for m in (om, nm):
        m.pop("resourceVersion", None)
        m["managedFields"] = _strip_times(m.get("managedFields"))
    return om == nm


# What typed (Go) objects never hold empty: ObjectMeta's maps and lists, and the data maps
# of ConfigMaps and Secrets (``omitempty``). A real server drops them on every write.
_EMPTY_META = ("labels", "annotations", "finalizers", "ownerReferences")
_EMPTY_TOP = {("", "configmaps"): ("data", "binaryData"), ("", "secrets"): ("data",)}


def omit_empty(key: tuple[str, str], obj: Obj) -> Obj:
    """Drop the empty fields a real server's typed objects omit (in place; returns ``obj``)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for k in _EMPTY_META:
            if k in meta and meta[k] in ({}, [], None):
                del meta[k]
    for k in _EMPTY_TOP.get(key, ()):
        if k in obj and obj[k] in ({}, None):
            del obj[k]
    return obj


_META_ORDER = ("name", "generateName", "namespace", "uid", "resourceVersion", "generation",
               "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
               "annotations", "ownerReferences", "finalizers", "managedFields")


def tidy(obj: Obj) -> Obj:
    """Key order of the real server's JSON (kind, apiVersion, metadata...); same content."""
    meta = obj.get("metadata") or {}
    ordered_meta = {k: meta[k] for k in _META_ORDER if k in meta}
    ordered_meta.update({k: v for k, v in meta.items() if k not in ordered_meta})
    out: Obj = {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"),
                "metadata": ordered_meta}
    out.update({k: v for k, v in obj.items() if k not in out})
    return out


def content(obj: Obj, status_sub: bool) -> Obj:
    """What ``metadata.generation`` tracks: everything but metadata (and status if separate)."""
    skip = ("metadata", "status") if status_sub else ("metadata",)
    return {k: v for k, v in obj.items() if k not in skip}
