"""KubeSim: a local Kubernetes API server for tests and demos."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from kubesim.app import build_app
from kubesim.controls import Controls
from kubesim.errors import SimError
from kubesim.kubeconfig import write_kubeconfig
from kubesim.loader import load_crds
from kubesim.rbac import SUPERUSER_GROUP
from kubesim.request import ApiRequest
from kubesim.state import CRD_KEY, NS_KEY, SYSTEM_NAMESPACES, SimState
from kubesim.tls import ServingCert, serving_cert
from kubesim.watch import ABORT
from kubesim.writes import Writer

T = TypeVar("T")
DEFAULT_TOKEN = "kubesim-token"
DEFAULT_USER = "kubesim-admin"
OTHER_TOKEN = "kubesim-other-token"
OTHER_USER = "other-user"


# kube-apiserver's default --etcd-compaction-interval.
COMPACTION_INTERVAL_S = 300.0

class KubeSim:
    """An in-process API server; see ``kubesim`` for what it implements."""

    def __init__(self, *, token: str = DEFAULT_TOKEN, user: str = DEFAULT_USER,
                 crd_dirs: Iterable[str | Path] = (), other_token: str = OTHER_TOKEN,
                 other_user: str = OTHER_USER, tls: bool = True) -> None:
        self.token = token
        self.user = user
        self.other_token = other_token
        self.other_user = other_user
        self.controls = Controls()
        self.controls.add_token(token, user)
        self.controls.add_token(other_token, other_user)
        self.state = SimState(self.controls)
        self.url = ""
        # HTTPS by default: kubectl sends bearer tokens over TLS only.
        self.cert: ServingCert | None = serving_cert() if tls else None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._writer = Writer(self.state)
        self.compaction_interval = COMPACTION_INTERVAL_S
        self._compactor: asyncio.Task[None] | None = None
        for ns in SYSTEM_NAMESPACES:
            self._seed(NS_KEY, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for crd in load_crds(crd_dirs):
            self._seed(CRD_KEY, crd)

    def _seed(self, key: tuple[str, str], obj: dict[str, Any]) -> None:
        rtype = self.state.registry.get(key)
        assert rtype is not None
        namespace = (obj.get("metadata") or {}).get("namespace") or "" if rtype.namespaced else ""
        req = ApiRequest(rtype=rtype, version=rtype.storage_version, namespace=namespace,
                         name="", subresource="", verb="create", query={},
                         user="system:apiserver", groups=(SUPERUSER_GROUP,),
                         user_agent="kube-apiserver/v1.36.0")
        try:
            self._writer.create(req, obj)
        except SimError as exc:
            name = (obj.get("metadata") or {}).get("name", "?")
            raise ValueError(f"{rtype.kind} {name}: {exc.message}") from exc

    def create_objects(self, objects: Iterable[dict[str, Any]]) -> int:
        """Create many objects at once, bypassing HTTP (benchmarks filling a cluster).

        Each object needs ``apiVersion``, ``kind`` and ``metadata.name`` (and namespace when
        namespaced); it goes through the same defaulting, validation and watch fan-out as a
        POST. Returns how many were created.
        """
        batch = list(objects)

        def run() -> int:
            for obj in batch:
                group, _, _version = str(obj.get("apiVersion", "")).rpartition("/")
                rtype = next((t for t in self.state.registry.all()
                              if t.group == group and t.kind == obj.get("kind")), None)
                if rtype is None:
                    raise ValueError(f"{obj.get('apiVersion')} {obj.get('kind')}: not served")
                self._seed(rtype.key, obj)
            return len(batch)

        return self.call(run, timeout=600)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on the running loop; returns the base URL."""
        loop = asyncio.get_running_loop()
        self._loop = loop

        def schedule(fn: Callable[[], None]) -> None:
            loop.call_later(0.005, fn)

        def in_loop(fn: Callable[[], None]) -> None:
            loop.call_soon_threadsafe(fn)

        self.state.schedule = schedule
        c = self.controls
        c._call_in_loop = in_loop
        c._on_drop = self._drop_watches
        c._on_silence = self._silence
        c._on_compact = self.state.store.compact
        c._on_window = self._set_window
        c._on_interval = self._set_compaction_interval
        self._compactor = loop.create_task(self._compact_periodically())
        app = build_app(self.state, server_address=f"{host}:{port}")
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        ssl_context = self.cert.server_context() if self.cert else None
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        scheme = "https" if self.cert else "http"
        self.url = f"{scheme}://{host}:{bound}"
        return self.url

    async def _compact_periodically(self) -> None:
        """Compact the history as kube-apiserver compacts etcd.

        Every interval it compacts to the version it noted at the previous tick, so
        changes stay watchable for one to two intervals (``--etcd-compaction-interval``,
        five minutes by default) and then answer 410 Gone.
        """
        store = self.state.store
        mark = store.rv
        while True:
            await asyncio.sleep(self.compaction_interval)
            store.compact_to(mark)
            mark = store.rv

    def _set_compaction_interval(self, seconds: float) -> None:
        self.compaction_interval = seconds
        if self._compactor is not None and self._loop is not None:
            self._compactor.cancel()
            self._compactor = self._loop.create_task(self._compact_periodically())

    async def close(self) -> None:
        """Stop serving (open watch streams end)."""
        self.state.closing = True
        if self._compactor is not None:
            self._compactor.cancel()
            self._compactor = None
        for w in self.state.store.watchers():
            w.queue.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a daemon thread with its own loop (for sync tests and subprocesses)."""
        started = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start(host, port))
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="kubesim", daemon=True)
        self._thread.start()
        started.wait(30)
        if failure:
            raise failure[0]
        return self.url

    def stop(self) -> None:
        """Stop a server started with :meth:`start_in_thread`."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self.close(), loop).result(15)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        self._thread = None

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` on the server loop (e.g. to inspect the store) and return its result."""
        loop = self._loop
        if loop is None or self._thread is None:
            return fn()

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    # -- watch sabotage -------------------------------------------------------------------

    def _drop_watches(self) -> None:
        for w in self.state.store.watchers():
            w.queue.put_nowait((ABORT, {}))

    def _silence(self, silent: bool, resource: str | None) -> None:
        for w in self.state.store.watchers():
            if resource is None or w.key[1] == resource:
                w.silent = silent

    def _set_window(self, events: int) -> None:
        self.state.store.set_window(events)

    # -- clients --------------------------------------------------------------------------

    def write_kubeconfig(self, path: str | Path, *, token: str | None = None,
                         user: str | None = None, namespace: str = "default") -> Path:
        """A kubeconfig for this server (the admin token unless ``token`` is given)."""
        if not self.url:
            raise RuntimeError("kubesim is not started")
        ca = self.cert.cert.read_bytes() if self.cert else None
        return write_kubeconfig(path, url=self.url, token=token or self.token,
                                user=user or self.user, namespace=namespace, ca_pem=ca)

    def __enter__(self) -> KubeSim:
        self.start_in_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
