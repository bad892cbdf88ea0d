"""Managed objects as edit targets, and a watch over every managed kind.

An edit target is a string leaf of a rendered object reached through maps only
(never through a list, so a changed value cannot turn into a second list item
keyed by it), which the controller owns and must put back, and which the
object's schema lets another client change (checked with a server-side dry run:
an enum or a pattern would refuse the edit, a pruned field would drop it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from autopilot import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from bench.client import BenchApiError, BenchClient
from bench.platform import PlatformSpec

SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"
# Leaves whose change means something else than drift (identity, immutable references).
_SKIP_TOP = ("apiVersion", "kind", "status")
_SKIP_META = ("name", "namespace", "generateName")
_IMMUTABLE = ("roleRef",)


@dataclass(frozen=True)
class Target:
    """One object and the leaf edits change."""

    kind: str
    name: str
    namespace: str
    api_version: str
    path: str
    collection: str
    pointer: str
    original: str

    @property
    def key(self) -> tuple[str, str, str]:
        """(kind, name, namespace) as the controller's log lines name it."""
        return self.kind, self.name, self.namespace


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _leaves(obj: Any, prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(obj, dict):
        for k in sorted(obj):
            yield from _leaves(obj[k], (*prefix, str(k)))
    elif isinstance(obj, str):
        yield prefix, obj


def candidate_leaves(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(JSON pointer, value) of editable string leaves, body fields before metadata."""
    body: list[tuple[str, str]] = []
    meta: list[tuple[str, str]] = []
    for path, value in _leaves(obj, ()):
        top = path[0]
        if top in _SKIP_TOP or any(p in _IMMUTABLE for p in path):
            continue
        if top == "metadata":
            if len(path) < 3 or path[1] not in ("labels", "annotations"):
                continue
            if path[2] == MANAGED_BY_LABEL:
                continue
            if path[1] in _SKIP_META:
                continue
            meta.append(("/" + "/".join(_escape(p) for p in path), value))
        else:
            body.append(("/" + "/".join(_escape(p) for p in path), value))
    return body + meta


def get_pointer(obj: Any, pointer: str) -> Any:
    """The value at a JSON pointer, or None."""
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


class Resolver:
    """apiVersion/kind -> (plural, namespaced), from discovery."""

    def __init__(self, client: BenchClient) -> None:
        self.client = client
        self._known: dict[tuple[str, str], tuple[str, bool]] = {}

    async def resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """Plural and scope of a kind."""
        if (api_version, kind) not in self._known:
            base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            doc = await self.client.request("GET", base)
            for r in doc.get("resources", []):
                if "/" not in r["name"]:
                    self._known[(api_version, r["kind"])] = (r["name"], bool(r["namespaced"]))
        return self._known[(api_version, kind)]

    async def collection(self, api_version: str, kind: str, namespace: str = "") -> str:
        """Collection path of a kind (namespaced when ``namespace`` is given)."""
        plural, namespaced = await self.resource(api_version, kind)
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if namespaced and namespace:
            base += f"/namespaces/{namespace}"
        return f"{base}/{plural}"


async def choose_targets(client: BenchClient, spec: PlatformSpec, *,
                         exclude_kinds: tuple[str, ...] = ("HyperConverged",)) -> list[Target]:
    """One target per managed object that has an editable leaf (live value = rendered),
    leaving out the objects their own templates read."""
    resolver = Resolver(client)
    out: list[Target] = []
    for obj in spec.expected:
        kind, api_version = str(obj["kind"]), str(obj["apiVersion"])
        if kind in exclude_kinds:
            continue
        meta = obj.get("metadata") or {}
        name, ns = str(meta["name"]), str(meta.get("namespace") or "")
        if (kind, ns, name) in spec.read_by_templates:
            continue  # its render reads it: an edit is an input, kept on purpose
        collection = await resolver.collection(api_version, kind)
        path = await resolver.collection(api_version, kind, ns) + f"/{name}"
        try:
            live = await client.request("GET", path)
        except Exception:
            continue
        for pointer, value in candidate_leaves(obj):
            target = Target(kind, name, ns, api_version, path, collection, pointer, value)
            if get_pointer(live, pointer) == value and await _editable(client, target):
                out.append(target)
                break
    return out


async def _editable(client: BenchClient, target: Target) -> bool:
    """Whether the server accepts and keeps an edit of the leaf (dry run, nothing stored)."""
    probe = f"{target.original}-bench"
    try:
        answer = await client.request(
            "PATCH", target.path, body=edit_ops(target, probe), query={"dryRun": "All"},
            content_type="application/json-patch+json")
    except BenchApiError:
        return False
    return bool(get_pointer(answer, target.pointer) == probe)


def edit_ops(target: Target, value: str) -> list[dict[str, Any]]:
    """A JSON patch setting the target leaf."""
    return [{"op": "replace", "path": target.pointer, "value": value}]


Listener = Callable[[str, dict[str, Any], float], None]


class ManagedWatch:
    """Watches every collection of ``targets`` (label-selected); calls listeners per event."""

    def __init__(self, client: BenchClient, targets: list[Target]) -> None:
        self.client = client
        self.collections = sorted({t.collection for t in targets})
        self.listeners: list[Listener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: list[asyncio.Event] = []

    async def __aenter__(self) -> ManagedWatch:
        for coll in self.collections:
            ready = asyncio.Event()
            self._ready.append(ready)
            self._tasks.append(asyncio.create_task(self._follow(coll, ready)))
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in self._ready)), 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def _follow(self, collection: str, ready: asyncio.Event) -> None:
        listing = await self.client.request("GET", collection,
                                            query={"labelSelector": SELECTOR})
        rv = str((listing.get("metadata") or {}).get("resourceVersion", ""))
        query = {"labelSelector": SELECTOR, "resourceVersion": rv, "timeoutSeconds": "3600"}
        async with self.client.watch(collection, query=query) as events:
            ready.set()
            async for event in events:
                now = time.monotonic()
                obj = event.get("object") or {}
                for listener in list(self.listeners):
                    listener(str(event.get("type", "")), obj, now)


def obj_key(obj: dict[str, Any]) -> tuple[str, str, str]:
    """(kind, name, namespace) of a watched object."""
    meta = obj.get("metadata") or {}
    return str(obj.get("kind", "")), str(meta.get("name", "")), str(meta.get("namespace") or "")
