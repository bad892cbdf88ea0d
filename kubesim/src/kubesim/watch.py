"""Streaming watch responses: replay, fan-out, bookmarks, timeouts, sabotage."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from kubesim import listoptions, table
from kubesim.errors import SimError
from kubesim.request import ApiRequest, truthy
from kubesim.selectors import make_matcher
from kubesim.state import SimState
from kubesim.store import INITIAL_EVENTS_END, Watcher

Obj = dict[str, Any]
ABORT = "__abort__"
DEFAULT_TIMEOUT = 1800.0


def _shape(req: ApiRequest, form: str, obj: Obj) -> Obj:
    if obj.get("apiVersion") != req.api_version:
        obj = {**obj, "apiVersion": req.api_version}
    if form == "table":
        return table.table(req.rtype, req.version, [obj],
                           {"resourceVersion": obj["metadata"].get("resourceVersion", "")})
    if form in ("partial", "partial-list"):
        return table.partial(obj)
    return obj


def _line(kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _closing(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def serve_watch(request: web.Request, state: SimState, req: ApiRequest,
                      form: str) -> web.StreamResponse:
    """Answer ``watch=true``: events as JSON lines until timeout, drop or disconnect.

    With ``sendInitialEvents=true`` (a streaming list) the stream starts with every
    selected object as ADDED, then (when bookmarks are allowed) the BOOKMARK annotated
    ``k8s.io/initial-events-end``. v1.36 ends the synthetic ADDED events of a watch
    without a resourceVersion the same way; a server that knows neither streaming-list
    parameter (controls: ``ignored``) does not. ``sendInitialEvents=false`` without a
    resourceVersion starts from now, with no initial events at all.
    """
    mode = state.controls.streaming_lists
    q = listoptions.as_served(req.query, mode)
    listoptions.validate(q, watch=True, mode=mode)
    raw_rv = q.get("resourceVersion") or ""
    try:
        since = None if raw_rv in ("", "0") else int(raw_rv)
    except ValueError as exc:
        raise SimError(400, f'invalid resource version: "{raw_rv}"') from exc
    streaming = truthy(q.get("sendInitialEvents"))
    if streaming:
        since = None  # the current state, whatever version was asked (not older than it)
    elif "sendInitialEvents" in q and since is None:
        since = state.store.rv
    timeout = float(q.get("timeoutSeconds") or DEFAULT_TIMEOUT)
    bookmarks = truthy(q.get("allowWatchBookmarks"))
    fields = q.get("fieldSelector") or ""
    if req.name:
        # The deprecated watch of one object by its path: same as selecting its name.
        fields = ",".join(f for f in (fields, f"metadata.name={req.name}") if f)
    matcher = make_matcher(q.get("labelSelector"), fields)
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    try:
        watcher = state.store.open_watch(req.rtype.key, namespace=req.namespace,
                                         matcher=matcher, since=since,
                                         end_initial=since is None and mode != "ignored")
    except SimError as exc:
        await response.prepare(request)
        await response.write(_line("ERROR", exc.body()))
        await response.write_eof()
        return response
    watcher.silent = state.controls.silence_new_watches
    try:
        await response.prepare(request)
        await _pump(request, response, state, req, form, watcher, timeout, bookmarks)
        if not _closing(request):
            await response.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        state.store.close_watch(watcher)
    return response


async def _pump(request: web.Request, response: web.StreamResponse, state: SimState,
                req: ApiRequest, form: str, watcher: Watcher, timeout: float,
                bookmarks: bool) -> None:
    deadline = time.monotonic() + timeout
    last_bookmark = time.monotonic()
    while True:
        if watcher.silent:
            # A hung stream: keep the connection, send nothing, ignore the timeout.
            while not _closing(request) and not state_closing(state):
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), 0.2)
                except TimeoutError:
                    continue
                if item is None:
                    return
                if item[0] == ABORT:
                    _abort(request)
                    return
            return
        interval = state.controls.bookmark_interval
        left = deadline - time.monotonic()
        if left <= 0:
            if bookmarks and watcher.queue.empty():
                await response.write(_bookmark(req, form, state.store.rv))
            return
        wait = min(left, max(0.05, interval - (time.monotonic() - last_bookmark))) \
            if bookmarks else left
        try:
            item = await asyncio.wait_for(watcher.queue.get(), wait)
        except TimeoutError:
            item = ("", {})
        if item is None:
            return
        kind, obj = item
        if kind == ABORT:
            _abort(request)
            return
        if watcher.silent:
            continue
        if kind == INITIAL_EVENTS_END:
            if bookmarks:  # without bookmarks a real server never says the state ended
                await response.write(_bookmark(req, form, obj["metadata"]["resourceVersion"],
                                               end=True))
                last_bookmark = time.monotonic()
        elif kind:
            await response.write(_line(kind, _shape(req, form, obj)))
        if bookmarks and watcher.queue.empty() and \
                time.monotonic() - last_bookmark >= interval:
            await response.write(_bookmark(req, form, state.store.rv))
            last_bookmark = time.monotonic()


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _bookmark(req: ApiRequest, form: str, rv: int | str, *, end: bool = False) -> bytes:
    meta: Obj = {"resourceVersion": str(rv)}
    if end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    if form in ("partial", "partial-list"):
        obj = {"kind": "PartialObjectMetadata", "apiVersion": table.META_API, "metadata": meta}
    else:
        obj = {"kind": req.rtype.kind, "apiVersion": req.api_version, "metadata": meta}
    return _line("BOOKMARK", obj)


def state_closing(state: SimState) -> bool:
    """Whether the server is shutting down (silent streams end then)."""
    return state.closing
