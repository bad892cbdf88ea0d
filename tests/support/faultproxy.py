"""A fault-injecting HTTPS proxy in front of a real API server, driven like kubesim's controls.

When a test asks for the ``faults`` fixture against a real kube-apiserver, every
client of that test (the controller, kubectl, the test's own requests) reaches the
server through this proxy. It terminates TLS with its own loopback certificate,
forwards each request unchanged to the server (verifying the server's certificate)
and streams the answer back, byte for byte.

Its controls are kubesim's :class:`~kubesim.controls.Controls` (the same
methods and rule bookkeeping), so one test body drives both worlds: latency,
answers held back after the server carried the request out, error answers (5xx,
429 with Retry-After), hung requests, connection resets, dropped and silent watch
streams, streaming lists refused or ignored (``set_streaming_lists``, as by a
server with the ``WatchList`` gate off or one that knows neither parameter), API groups
left out of discovery (``hide_from_discovery``), and request
counters by verb, resource, user agent and dry run.
``compact()`` waits for the real server's own etcd compaction
(servers started with compaction only). What a proxy must not fake is refused
with a pointer to the real mechanism: identities, admission and RBAC denials.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from kubesim import discovery, listoptions
from kubesim.controls import Controls, ErrorRule
from kubesim.errors import SimError
from kubesim.tls import serving_cert

# Not forwarded in either direction: they describe one hop, not the message.
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
        "proxy-authorization", "proxy-authenticate", "host", "content-length"}
_MESSAGES = {429: ("TooManyRequests", "Too many requests, please try again later."),
             500: ("InternalError", "Internal error occurred: injected by the test proxy"),
             503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
             504: ("Timeout", "the request timed out")}


class ProxyControls(Controls):
    """kubesim's controls, acted out by a proxy in front of a real server."""

    def __init__(self, compact: Callable[[], None] | None) -> None:
        super().__init__()
        self._compact = compact

    def compact(self) -> None:
        """Wait until the real server's own compaction has passed every version up to now."""
        if self._compact is None:
            raise RuntimeError("this real server does not compact: mark the test "
                               "@pytest.mark.fresh_server(compaction=True)")
        self._compact()

    def set_compaction_window(self, events: int) -> None:
        """Not available: a real server compacts by time (see :meth:`compact`)."""
        raise NotImplementedError("a real server compacts by time, not by a window of events")

    def add_token(self, token: str, user: str, *, groups: tuple[str, ...] = ()) -> None:
        """Not available: a real server's tokens are fixed when it starts."""
        raise NotImplementedError("a real server's tokens are fixed at start: use the "
                                  "identities the cluster fixture provides")

    def deny_admission(self, kind: str, message: str = "", **_: Any) -> None:
        """Not available: register a real ValidatingWebhookConfiguration instead."""
        raise NotImplementedError("use the `webhook` fixture (a real validating webhook)")

    def deny_rbac(self, user: str, verb: str, resource: str, **_: Any) -> None:
        """Not available: real RBAC only grants; grant a role without the permission."""
        raise NotImplementedError("grant a role without the permission (tests.support.rbac)")


def classify(method: str, path: str, query: Any) -> tuple[str, str]:
    """(verb, resource plural) of a request, as kubesim counts it; ``""`` for discovery."""
    segs = [s for s in path.split("/") if s]
    if len(segs) >= 3 and segs[0] == "api":
        rest = segs[2:]
    elif len(segs) >= 4 and segs[0] == "apis":
        rest = segs[3:]
    else:
        return ("get" if method == "GET" else method.lower()), ""
    if rest[0] == "namespaces" and len(rest) >= 3 and not (
            len(rest) == 3 and rest[2] in ("status", "finalize")):
        rest = rest[2:]
    name = rest[1] if len(rest) > 1 else ""
    if method == "GET":
        verb = "watch" if query.get("watch") in ("true", "1") else ("get" if name else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())
    return verb, rest[0]


@dataclass(eq=False)
class _Stream:
    request: web.Request
    upstream: aiohttp.ClientResponse
    silent: bool


def _closing(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _hold(request: web.Request, limit: float = 600.0) -> None:
    """Keep a connection open without answering until the client leaves."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if _closing(request):  # no event tells when a peer hangs up: poll the transport
            return
        await asyncio.sleep(0.1)


# What a server that knows neither streaming-list parameter (older than 1.19) makes of a
# streaming list: a plain watch. And while the real server behind the proxy ends a watch's
# synthetic ADDED events with the annotated bookmark whenever bookmarks are allowed, an
# old one sends its first bookmark a minute or so later, unannotated: the stream goes
# without bookmarks.
_UNKNOWN_TO_OLD_SERVERS = ("sendInitialEvents", "resourceVersionMatch", "allowWatchBookmarks")


def _as_served(request: web.Request, mode: str) -> str:
    """The watch's path and query as a server without streaming lists takes them: a 422
    from one with the WatchList gate off, the parameters dropped by an older one."""
    query = request.rel_url.query
    if "sendInitialEvents" not in query:
        return request.raw_path
    if mode == "refused":
        listoptions.validate(query, watch=True, mode=mode)
        return request.raw_path
    kept = [(k, v) for k, v in query.items() if k not in _UNKNOWN_TO_OLD_SERVERS]
    return str(request.rel_url.with_query(kept))


def _forwarded(headers: Any) -> CIMultiDict[str]:
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _HOP)


class FaultProxy:
    """An HTTPS proxy to ``upstream`` on 127.0.0.1, run from a thread of its own."""

    def __init__(self, *, upstream: str, upstream_tls: ssl.SSLContext,
                 compact: Callable[[], None] | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.cert = serving_cert()
        self.controls = ProxyControls(compact)
        self.url = ""
        self._upstream_tls = upstream_tls
        self._streams: set[_Stream] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy",
                                        daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def ca_pem(self) -> bytes:
        """The proxy's certificate (its own CA), for kubeconfigs."""
        return self.cert.cert.read_bytes()

    def start(self) -> str:
        """Listen on a free loopback port; returns the base URL."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        c = self.controls
        c._call_in_loop = self._loop.call_soon_threadsafe
        c._on_drop = self._drop
        c._on_silence = self._silence
        return self.url

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self._upstream_tls, limit=0),
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None, connect=10))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0,
                           ssl_context=self.cert.server_context())
        await site.start()
        server = site._server
        assert server is not None
        port = getattr(server, "sockets", [])[0].getsockname()[1]
        self.url = f"https://127.0.0.1:{port}"

    def close(self) -> None:
        """Cut every connection and stop."""
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _close(self) -> None:
        self._drop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # -- the controls' actions on open watch streams (run on the proxy's loop) -------------

    def _drop(self) -> None:
        for stream in list(self._streams):
            transport = stream.request.transport
            if transport is not None:
                transport.abort()
            stream.upstream.close()
        self._streams.clear()

    def _silence(self, silent: bool, resource: str | None) -> None:
        if silent:
            for stream in self._streams:
                req = stream.request
                if resource is None or classify(req.method, req.path, req.query)[1] == resource:
                    stream.silent = True

    # -- requests ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        verb, resource = classify(request.method, request.path, request.query)
        c = self.controls
        c.record(verb=verb, resource=resource, user_agent=request.headers.get("User-Agent", ""),
                 dry_run="All" in request.query.getall("dryRun", []))
        delay = c.latency_for(verb, resource)
        if delay > 0:
            await asyncio.sleep(delay)
        rule = c.take_error(verb, resource)
        if rule is not None:
            return await self._fault(request, rule)
        raw_path = request.raw_path
        if verb == "watch" and c.streaming_lists != "on":
            try:
                raw_path = _as_served(request, c.streaming_lists)
            except SimError as exc:
                return web.Response(status=exc.code, body=json.dumps(exc.body()).encode(),
                                    headers={"Content-Type": "application/json"})
        body = await request.read()
        assert self._session is not None
        try:
            upstream = await self._session.request(
                request.method, URL(self.upstream + raw_path, encoded=True),
                headers=_forwarded(request.headers), data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None if verb == "watch" else 120,
                                              connect=10))
        except (aiohttp.ClientError, OSError, TimeoutError):
            # The server is unreachable: so is the proxy, as far as the client can tell.
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=502)
        if verb == "watch" and upstream.status == 200:
            return await self._stream(request, upstream)
        async with upstream:
            data = await upstream.read()
        if c.hidden_groups and request.path.rstrip("/") == "/apis" and upstream.status == 200:
            data = json.dumps(discovery.without_groups(json.loads(data),
                                                       c.hidden_groups)).encode()
        late = c.answer_delay_for(verb, resource)
        if late > 0:
            await asyncio.sleep(late)  # the server carried the request out; its answer waits
        return web.Response(status=upstream.status, body=data,
                            headers=_forwarded(upstream.headers))

    async def _fault(self, request: web.Request, rule: ErrorRule) -> web.StreamResponse:
        if rule.hang:
            await _hold(request)
            return web.Response(status=504)
        if rule.reset:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=502)
        reason, default = _MESSAGES.get(rule.status, ("InternalError", _MESSAGES[500][1]))
        status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                  "status": "Failure", "message": rule.message or default,
                                  "reason": reason, "code": rule.status}
        headers = {"Content-Type": "application/json"}
        if rule.retry_after is not None:
            seconds = int(rule.retry_after + 0.999)
            headers["Retry-After"] = str(seconds)
            status["details"] = {"retryAfterSeconds": seconds}
        return web.Response(status=rule.status, body=json.dumps(status).encode(),
                            headers=headers)

    async def _stream(self, request: web.Request,
                      upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status,
                                      headers=_forwarded(upstream.headers))
        stream = _Stream(request, upstream, silent=self.controls.silence_new_watches)
        self._streams.add(stream)
        try:
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                if not stream.silent:
                    await response.write(chunk)
            if stream.silent:
                # A hung stream neither sends nor ends, whatever the server does.
                await _hold(request)
            elif not _closing(request):
                await response.write_eof()
        except (ConnectionError, aiohttp.ClientError):
            if request.transport is not None:
                request.transport.abort()
        finally:
            self._streams.discard(stream)
            upstream.close()
        return response
