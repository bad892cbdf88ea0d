"""Streaming lists: an informer's initial state sent on its watch stream (watch-list).

A watch opened with ``sendInitialEvents=true``, ``resourceVersionMatch=NotOlderThan``,
``allowWatchBookmarks=true`` and no ``resourceVersion`` first sends every selected
object as an ``ADDED`` event, then a ``BOOKMARK`` annotated
``k8s.io/initial-events-end: "true"`` carrying the resourceVersion of that state,
and then goes on as an ordinary watch from it. One request replaces a list and a
watch (Kubernetes "streaming lists", KEP-3157; served by kube-apiserver whenever
its ``WatchList`` feature gate is on, the default again since 1.34).

Servers that cannot do it refuse the parameters or ignore them. A server with the
gate off refuses them (422 Invalid), and so does one older than the feature from
1.19 on (it forbids ``resourceVersionMatch`` on a watch); an informer that meets
such a client error falls back to a list and a watch for good. A server that
knows neither parameter (older still, or a server or proxy in between that drops
them) streams the objects as a plain watch without a resourceVersion does, and
never the end bookmark; the informer waits a bounded time for it, then falls
back the same way. The choice is each informer's own: kinds served by an
aggregated API server (another program, of another version) may answer
differently from the ones kube-apiserver serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from autopilot.kube.errors import ApiError
from autopilot.kube.store import Key, object_key

INITIAL_EVENTS_END = "k8s.io/initial-events-end"

# Client errors that say nothing about the parameters: credentials, a resource not
# served (yet), a resourceVersion too old, load shedding. Those are retried as usual.
_NOT_A_REFUSAL = frozenset({401, 404, 410, 429})

Objects = dict[Key, dict[str, Any]]


class EndBookmarkMissing(Exception):
    """The server streamed the initial state without ever ending it: it ignores watch-list."""


def streaming_list_query(*, label_selector: str | None, field_selector: str | None,
                         timeout_seconds: int) -> dict[str, str | int | bool | None]:
    """The query of a watch that starts with the selected objects' current state."""
    return {
        "sendInitialEvents": True,
        "resourceVersionMatch": "NotOlderThan",
        # Without bookmarks a server sends the initial state but never its end.
        "allowWatchBookmarks": True,
        "timeoutSeconds": timeout_seconds,
        "labelSelector": label_selector,
        "fieldSelector": field_selector,
    }


def refuses_streaming_lists(exc: ApiError) -> bool:
    """Whether an error answer to a streaming list means the server will not serve one."""
    return 400 <= exc.status < 500 and exc.status not in _NOT_A_REFUSAL


def ends_initial_events(obj: dict[str, Any]) -> bool:
    """Whether a BOOKMARK event's object marks the end of the initial state."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return isinstance(annotations, dict) and annotations.get(INITIAL_EVENTS_END) == "true"


async def initial_state(
    events: AsyncIterator[dict[str, Any]],
    *,
    within: float,
    complete: Callable[[dict[str, Any]], dict[str, Any]],
    seen: Callable[[], None],
) -> tuple[Objects, str] | None:
    """Read a streaming list's state off ``events``, up to its end bookmark.

    Returns the objects (each passed through ``complete``) and the end's
    resourceVersion, or None when the stream ends first; the stream stays open for
    the watch that follows. ``seen`` is called on every event. An ERROR event raises
    its :class:`ApiError`; no end within ``within`` seconds raises
    :class:`EndBookmarkMissing`.
    """
    objects: Objects = {}
    try:
        async with asyncio.timeout(within) as bound:
            async for event in events:
                seen()
                kind, obj = str(event.get("type") or ""), event.get("object")
                if not isinstance(obj, dict):
                    continue
                if kind == "ERROR":
                    raise ApiError.from_status(obj)
                if kind == "BOOKMARK":
                    if ends_initial_events(obj):
                        meta = obj.get("metadata") or {}
                        return objects, str(meta.get("resourceVersion") or "")
                    continue
                obj = complete(obj)
                if kind == "DELETED":  # a server sends ADDED only; kept correct all the same
                    objects.pop(object_key(obj), None)
                else:
                    objects[object_key(obj)] = obj
    except TimeoutError:
        if bound.expired():
            raise EndBookmarkMissing(
                f"no end of the initial events within {within:g}s") from None
        raise
    return None
