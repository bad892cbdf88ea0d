"""Template lookups answered from watches, and the assets re-rendered when an answer changes.

A template's first question about an object starts a watch of that object alone
(``metadata.name`` field selector, in its namespace): a ConfigMap lookup never
caches another ConfigMap. An object another listed informer of the controller
already keeps whole whatever its labels (:mod:`autopilot.runtime.coverage`) starts
no watch: that informer answers, and its events of the object re-render the assets
that read it; ``object_exists`` is answered by a listed cache that keeps the
object reduced as well (a cache of names tells existence). The kinds the derived
lookups list (PrometheusRules for ``recording_rule_exists``, StorageProfiles and
StorageClasses for the storage lookups) are watched whole, each object reduced to
what those lookups read, unless a managed kind's watch of every object keeps that
much (:mod:`autopilot.controller.summaries`): then it lends its cache. After
its first list a watch answers from its cache: a resync pass asks the API server
nothing.

Each asset pass renders through :meth:`WatchedLookups.for_asset`, which records
the watches its templates read; an event that changes a watched object re-renders
exactly those assets. A kind that is not served answers like an absent object, and
the assets that asked are rendered again when discovery changes
(:meth:`WatchedLookups.kinds_changed`). Templates render in worker threads; every
answer is read on the event loop (the caches are not thread-safe), bounded by a
timeout, and handed over as a copy.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from autopilot.controller.lookup_lenders import Lenders
from autopilot.golden.lookups import PROMETHEUS_RULE, STORAGE_CLASS, STORAGE_PROFILE, ObjectLookups
from autopilot.kube.client import KubeClient
from autopilot.kube.informer import Informer, Selection, Transform
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.store import STORAGE_INITIALIZING, Store
from autopilot.observability.metrics import Metrics
from autopilot.runtime.informer_set import InformerSet

log = structlog.get_logger("autopilot.lookups")

T = TypeVar("T")

LOOKUP_TIMEOUT = 10.0
# The existence question about a named object, beside the watch of its get.
_EXISTS = "?exists"
_FIRST_LIST_POLL = 0.05


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def _recorded_rules(rule: dict[str, Any]) -> dict[str, Any]:
    """A PrometheusRule reduced to its recording rules' names (what the lookup reads)."""
    groups = [{"rules": [{"record": r["record"]} for r in g.get("rules") or []
                         if isinstance(r, dict) and r.get("record")]}
              for g in (rule.get("spec") or {}).get("groups") or [] if isinstance(g, dict)]
    return {**_identity(rule), "spec": {"groups": [g for g in groups if g["rules"]]}}


def _claim_sets(profile: dict[str, Any]) -> dict[str, Any]:
    """A StorageProfile reduced to the claim property sets it offers."""
    sets = (profile.get("status") or {}).get("claimPropertySets") or []
    return {**_identity(profile), "status": {"claimPropertySets": sets}}


def _identity(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
            "metadata": {k: meta[k] for k in ("name", "namespace", "resourceVersion")
                         if k in meta}}


# The kinds the derived lookups list, watched whole, and what of each object is kept.
# A kind kept unreduced (StorageClass: a few small objects) also answers gets of it.
LISTED_KINDS: dict[tuple[str, str], Transform] = {
    PROMETHEUS_RULE: _recorded_rules,
    STORAGE_PROFILE: _claim_sets,
    STORAGE_CLASS: _without_managed_fields,
}
_WHOLE = {STORAGE_CLASS}


class LookupUnavailable(Exception):
    """A lookup's watch has not listed (yet); the lookup gives its default."""


@dataclass(frozen=True, slots=True)
class _Watch:
    """One lookup watch: what it watches and how its objects are kept."""

    api_version: str
    kind: str
    select: Selection
    named: tuple[str, str] | None = None  # (namespace, name) of a one-object watch
    exists: bool = False  # asks only whether the object exists


class WatchedLookups(ObjectLookups):
    """Template lookups over watches started on first use."""

    def __init__(
        self,
        *,
        client: KubeClient,
        informers: InformerSet,
        resource_for: Callable[[str, str], ResourceInfo | None],
        loop: asyncio.AbstractEventLoop,
        rerender: Callable[[set[str]], None],
        metrics: Metrics | None = None,
    ) -> None:
        self._client = client
        self._informers = informers
        self._resource_for = resource_for
        self._loop = loop
        self._rerender = rerender
        self._metrics = metrics
        self._lock = threading.Lock()  # guards what follows (render threads, loop)
        self._watches: dict[str, _Watch] = {}
        self._users: dict[str, set[str]] = {}  # watch name -> assets whose render read it
        # Watches that answered a default before their first list: that list re-renders.
        self._defaulted: set[str] = set()
        # Named watches answered by another listed informer (read on the loop only).
        self._lenders = Lenders(informers=informers, changed=self._changed)

    def for_asset(self, asset: str) -> ObjectLookups:
        """Lookups for one render of ``asset``: the watches it reads are recorded anew."""
        with self._lock:
            for users in self._users.values():
                users.discard(asset)
        return _AssetLookups(self, asset)

    def get_object(
        self, api_version: str, kind: str, name: str, namespace: str = ""
    ) -> dict[str, Any] | None:
        """The object, or None (also when its kind is not served)."""
        return self.get_for(None, api_version, kind, name, namespace)

    def list_objects(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        """Every object of a listed kind, as reduced for the lookups ([] when not served)."""
        return self.list_for(None, api_version, kind)

    def get_for(
        self, asset: str | None, api_version: str, kind: str, name: str, namespace: str
    ) -> dict[str, Any] | None:
        """:meth:`get_object` on behalf of ``asset`` (None: record nothing)."""
        if (api_version, kind) in _WHOLE:
            watch_name = self._listing(api_version, kind)
        else:
            watch_name = self._named(api_version, kind, name, namespace)

        def pick(store: Store, res: ResourceInfo) -> dict[str, Any] | None:
            obj = store.get((namespace or None) if res.namespaced else None, name)
            return None if obj is None else _without_managed_fields(obj)  # a lent cache's

        return self._ask(asset, watch_name, pick, default=None)

    def exists_for(
        self, asset: str | None, api_version: str, kind: str, name: str, namespace: str
    ) -> bool:
        """:meth:`object_exists` on behalf of ``asset``: a reduced covering cache answers too."""
        if (api_version, kind) in _WHOLE:
            return self.get_for(asset, api_version, kind, name, namespace) is not None
        get_name = self._named(api_version, kind, name, namespace)
        with self._lock:
            watch = dataclasses.replace(self._watches[get_name], exists=True)
        watch_name = self._register(get_name + _EXISTS, watch)

        def pick(store: Store, res: ResourceInfo) -> bool:
            return store.get((namespace or None) if res.namespaced else None, name) is not None

        return self._ask(asset, watch_name, pick, default=False)

    def list_for(self, asset: str | None, api_version: str, kind: str) -> list[dict[str, Any]]:
        """:meth:`list_objects` on behalf of ``asset`` (None: record nothing)."""
        if (api_version, kind) not in LISTED_KINDS:
            raise ValueError(f"{kind} is not a kind the lookups list")
        return self._ask(asset, self._listing(api_version, kind),
                         lambda store, _: store.list(), default=[])

    def _named(self, api_version: str, kind: str, name: str, namespace: str) -> str:
        watch_name = f"lookup/{api_version}/{kind}/{namespace}/{name}"
        select = Selection(namespace=namespace or None, field_selector=f"metadata.name={name}",
                           transform=_without_managed_fields)
        return self._register(watch_name, _Watch(api_version, kind, select, (namespace, name)))

    def _listing(self, api_version: str, kind: str) -> str:
        select = Selection(transform=LISTED_KINDS[(api_version, kind)])
        return self._register(f"lookup/{api_version}/{kind}", _Watch(api_version, kind, select))

    def _register(self, watch_name: str, watch: _Watch) -> str:
        with self._lock:
            self._watches.setdefault(watch_name, watch)
        return watch_name

    def _ask(self, asset: str | None, watch_name: str,
             pick: Callable[[Store, ResourceInfo], T], *, default: T) -> T:
        if asset is not None:
            with self._lock:
                self._users.setdefault(watch_name, set()).add(asset)
        try:
            if _on_loop(self._loop):
                raise RuntimeError("lookups must not run on the event loop thread")
            future = asyncio.run_coroutine_threadsafe(self._read(watch_name, pick), self._loop)
            try:
                return future.result(timeout=LOOKUP_TIMEOUT + 1.0)
            finally:
                future.cancel()
        except Exception as exc:
            # The watch keeps trying; its first list re-renders the assets that asked.
            with self._lock:
                self._defaulted.add(watch_name)
            log.warning("template lookup failed; using its default", watch=watch_name,
                        error=str(exc) or type(exc).__name__)
            return default

    async def _read(self, watch_name: str, pick: Callable[[Store, ResourceInfo], T]) -> T:
        """On the loop: the answer from the watch's cache (started and listed first)."""
        with self._lock:
            watch = self._watches[watch_name]
        res = self._resource_for(watch.api_version, watch.kind)
        if res is None:
            return pick(Store(), _NOT_SERVED)  # an absent object, an empty list
        inf = await self._informer(watch_name, watch, res)
        deadline = self._loop.time() + LOOKUP_TIMEOUT
        while not inf.has_synced and self._loop.time() < deadline and (
            inf.last_error is None or STORAGE_INITIALIZING in inf.last_error
        ):
            await inf.wait_synced(timeout=_FIRST_LIST_POLL)
        if not inf.has_synced:
            raise LookupUnavailable(inf.last_error or "not listed yet")
        return copy.deepcopy(pick(inf.store, res))

    async def _informer(self, watch_name: str, watch: _Watch, res: ResourceInfo) -> Informer:
        # Not for a lookup whose own watch already started.
        lent = None if watch_name in self._informers else self._lenders.lend(
            watch_name, res=res, named=watch.named, whole=not watch.exists,
            listing=LISTED_KINDS.get((watch.api_version, watch.kind)))
        if lent is not None:
            return lent
        if watch.exists:  # no cache covers it: the watch of the object's get answers
            get_name = watch_name.removesuffix(_EXISTS)
            with self._lock:
                twin = self._watches[get_name]
            return await self._informer(get_name, twin, res)
        inf = self._informers.get(watch_name)
        while inf is not None and inf.resource != res:
            await self._informers.remove(watch_name)  # its kind moved (discovery changed)
            inf = self._informers.get(watch_name)  # another render may have restarted it
        if inf is not None:
            return inf
        inf = Informer(self._client, res, select=_scoped(watch.select, res),
                       metrics=self._metrics, name=watch_name)
        inf.add_handler(lambda event, obj, old: self._changed(watch_name, event, obj, old))
        # Best effort: a lookup waits with its own deadline and says when it gave up.
        self._informers.add(watch_name, inf, optional=True)
        log.info("watching for template lookups", informer=watch_name)
        return inf

    def _changed(self, watch_name: str, event: str, obj: dict[str, Any],
                 old: dict[str, Any] | None) -> None:
        if event == "MODIFIED" and _same(old, obj):
            return
        inf = self._informers.get(watch_name)
        with self._lock:
            defaulted = {watch_name, watch_name + _EXISTS} & self._defaulted
            if inf is not None and not inf.has_synced and not defaulted:
                return  # the first list: the render that started the watch waits for it
            users = _users_of(self._users, {watch_name})
        if users:
            self._rerender(users)

    async def kinds_changed(self) -> None:
        """Discovery changed: restart or stop the watches whose kind moved, re-render users."""
        with self._lock:
            watches = dict(self._watches)
        moved: set[str] = set()
        for watch_name, watch in watches.items():
            res = self._resource_for(watch.api_version, watch.kind)
            lent = self._lenders.moved(watch_name, res)
            if lent is not None:
                if lent:  # the lender stopped: the next question asks again
                    moved.add(watch_name)
                continue
            if watch.exists:
                continue  # read through its get's watch, which this loop checks
            inf = self._informers.get(watch_name)
            current = inf.resource if inf is not None else None
            if res == current:
                continue
            if inf is not None:
                await self._informers.remove(watch_name)
            moved.add(watch_name)
        with self._lock:
            users = _users_of(self._users, moved)
        if users:
            self._rerender(users)


class _AssetLookups(ObjectLookups):
    """The lookups one asset's render makes, recorded against that asset."""

    def __init__(self, owner: WatchedLookups, asset: str) -> None:
        self._owner = owner
        self._asset = asset

    def get_object(
        self, api_version: str, kind: str, name: str, namespace: str = ""
    ) -> dict[str, Any] | None:
        """The object, or None."""
        return self._owner.get_for(self._asset, api_version, kind, name, namespace)

    def list_objects(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        """Every object of a listed kind."""
        return self._owner.list_for(self._asset, api_version, kind)

    def object_exists(self, api_version: str, kind: str, name: str, namespace: str = "") -> bool:
        """Whether the object exists."""
        return self._owner.exists_for(self._asset, api_version, kind, name, namespace)


def _users_of(users: dict[str, set[str]], watch_names: set[str]) -> set[str]:
    """The assets that read these watches, or asked existence through them."""
    return {asset for name in watch_names for asked in (name, name + _EXISTS)
            for asset in users.get(asked, ())}


_NOT_SERVED = ResourceInfo("", "v1", "", "", False)


def _scoped(select: Selection, res: ResourceInfo) -> Selection:
    """A cluster-scoped kind takes no namespace, whatever the template passed."""
    if res.namespaced or select.namespace is None:
        return select
    return Selection(field_selector=select.field_selector, transform=select.transform)


def _same(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Equal but for the resourceVersion (a reduced object whose kept parts did not move)."""
    if old is None:
        return False

    def bare(obj: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
        return {**obj, "metadata": meta}

    return bare(old) == bare(new)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
