"""GET of one object and of collections (selectors, pagination, metadata-only, tables)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

from kubesim import event_views, listoptions, table
from kubesim.errors import SimError, not_found
from kubesim.request import ApiRequest
from kubesim.selectors import make_matcher
from kubesim.state import SimState

Obj = dict[str, Any]


def _versioned(obj: Obj, req: ApiRequest) -> Obj:
    if obj.get("apiVersion") == req.api_version:
        return obj
    return {**obj, "apiVersion": req.api_version}


def get_object(state: SimState, req: ApiRequest, form: str) -> Obj:
    """One object (or its PartialObjectMetadata / one-row Table)."""
    obj = state.store.get(req.rtype.key, req.namespace, req.name)
    other = event_views.other_key(req.rtype.key)
    if obj is None and other is not None:
        found = state.store.get(other, req.namespace, req.name)
        obj = event_views.convert(found, to=req.rtype.key) if found is not None else None
    if obj is None:
        raise not_found(req.rtype.plural, req.rtype.group, req.name)
    obj = _versioned(obj, req)
    if form == "table":
        return table.table(req.rtype, req.version, [obj],
                           {"resourceVersion": obj["metadata"]["resourceVersion"]})
    if form in ("partial", "partial-list"):
        return table.partial(obj)
    return obj


def _encode_continue(rv: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> str:
    try:
        pad = "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(token + pad))
        return str(data["start"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SimError(400, "continue key is not valid: incorrect encoded start "
                       "resourceVersion (version meta.k8s.io/v1)") from exc


def _with_event_views(state: SimState, req: ApiRequest) -> Iterator[Obj]:
    """The collection, plus for events the other API's events converted (shared storage)."""
    yield from state.store.iter(req.rtype.key, req.namespace)
    other = event_views.other_key(req.rtype.key)
    if other is not None:
        for obj in state.store.iter(other, req.namespace):
            yield event_views.convert(obj, to=req.rtype.key)


def list_objects(state: SimState, req: ApiRequest, form: str) -> Obj:
    """A collection, filtered by selectors and paged with ``limit``/``continue``."""
    q = req.query
    listoptions.validate(listoptions.as_served(q, state.controls.streaming_lists), watch=False,
                         mode=state.controls.streaming_lists)
    matcher = make_matcher(q.get("labelSelector"), q.get("fieldSelector"))
    limit = int(q.get("limit") or 0)
    start = _decode_continue(q["continue"]) if q.get("continue") else ""
    items: list[Obj] = []
    remaining = 0
    next_start = ""
    for obj in _with_event_views(state, req):
        meta = obj["metadata"]
        # Continue keys are etcd keys relative to the listed prefix, like the real server's.
        pos = f"/{meta['name']}" if req.namespace or not req.rtype.namespaced \
            else f"/{meta.get('namespace', '')}/{meta['name']}"
        if start and pos < start:
            continue
        if matcher is not None and not matcher(obj):
            continue
        if limit and len(items) >= limit:
            remaining += 1
            continue
        items.append(obj)
        next_start = pos + "\x00"
    list_meta: Obj = {"resourceVersion": str(state.store.rv)}
    if remaining:
        list_meta["continue"] = _encode_continue(state.store.rv, next_start)
        if matcher is None:
            list_meta["remainingItemCount"] = remaining
    versioned = [_versioned(o, req) for o in items]
    if form == "table":
        return table.table(req.rtype, req.version, versioned, list_meta)
    if form in ("partial", "partial-list"):
        return {"kind": "PartialObjectMetadataList", "apiVersion": table.META_API,
                "metadata": list_meta, "items": [table.partial(o) for o in versioned]}
    if req.rtype.crd_name:
        out_items = versioned
    else:
        # Built-in lists carry items without apiVersion/kind, like the real server.
        out_items = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")}
                     for o in versioned]
    return {"kind": req.rtype.list_kind, "apiVersion": req.api_version, "metadata": list_meta,
            "items": out_items}
