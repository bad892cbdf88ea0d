"""A small asyncio client for the Kubernetes REST API.

Configuration (server, CA, client certificates, token, TLS verification) is
loaded by :mod:`autopilot.kube.kubeconfig`; the HTTP layer is one shared aiohttp
session built strictly from that configuration. Every request has a connect
and a total timeout; watches have a per-read inactivity timeout instead. The
object verbs (get, list, apply, ...) come from :mod:`autopilot.kube.verbs`.

Errors (:mod:`autopilot.kube.errors`, re-exported here): the API server's answer
becomes :class:`ApiError` (its ``Status`` message kept verbatim, because
operators grep logs for it); a transport failure becomes :class:`ApiUnreachable`
(a ``ConnectionError``) and a timeout stays a ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, overload

import aiohttp

from autopilot import FIELD_MANAGER, __version__
from autopilot.kube.errors import ApiError, ApiUnreachable, ClientConfigError
from autopilot.kube.kubeconfig import load_configuration
from autopilot.kube.proxy import proxy_for
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.tlsbuffers import use_smaller_tls_read_buffers
from autopilot.kube.verbs import Query, ResourceVerbs

if TYPE_CHECKING:
    from autopilot.observability.metrics import Metrics

__all__ = [
    "ApiError",
    "ApiUnreachable",
    "ClientConfigError",
    "KubeClient",
    "load_configuration",
    "micro_time",
]

USER_AGENT = f"virt-platform-autopilot/{__version__}"
CONNECT_TIMEOUT = 10.0


def _ssl_context(cfg: Any) -> ssl.SSLContext | bool:
    if not str(cfg.host).startswith("https"):
        return False
    ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, keyfile=cfg.key_file)
    if not cfg.verify_ssl:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _proxy_of(configuration: Any) -> str | None:
    """The kubeconfig's proxy-url, else HTTPS_PROXY/NO_PROXY (aiohttp's trust_env stays
    off: its own reading of the environment is not client-go's)."""
    explicit = getattr(configuration, "proxy_url", None) or getattr(configuration, "proxy", None)
    return proxy_for(str(configuration.host).rstrip("/"), proxy_url=explicit)


class _Connect(Protocol):
    def __call__(
        self,
        kubeconfig: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        metrics: Metrics | None = None,
        *,
        context: str | None = None,
    ) -> Awaitable[KubeClient]: ...


class _CreateObject(Protocol):
    def __call__(
        self,
        res: ResourceInfo,
        obj: dict[str, Any],
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
    ) -> Awaitable[dict[str, Any]]: ...


class _Create:
    """``create`` on the class connects; on an instance it POSTs an object."""

    @overload
    def __get__(self, obj: None, owner: type[KubeClient]) -> _Connect: ...

    @overload
    def __get__(self, obj: KubeClient, owner: type[KubeClient]) -> _CreateObject: ...

    def __get__(
        self, obj: KubeClient | None, owner: type[KubeClient]
    ) -> _Connect | _CreateObject:
        if obj is None:
            return owner.connect
        return obj.create_object


class KubeClient(ResourceVerbs):
    """One shared aiohttp session to one API server."""

    def __init__(
        self,
        configuration: Any,
        session: aiohttp.ClientSession,
        *,
        timeout: float = 30.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._cfg = configuration
        self._session = session
        self.host = str(configuration.host).rstrip("/")
        self.timeout = timeout
        self.metrics = metrics
        self._server_hostname: str | None = getattr(configuration, "tls_server_name", None)
        self._proxy = _proxy_of(configuration)
        self._failing_since: float | None = None
        self._last_failure = ""

    @classmethod
    async def connect(
        cls,
        kubeconfig: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        metrics: Metrics | None = None,
        *,
        context: str | None = None,
    ) -> KubeClient:
        """Load the configuration and open the shared session."""
        cfg = await load_configuration(kubeconfig, context=context)
        return cls.from_configuration(cfg, timeout=timeout, metrics=metrics)

    @classmethod
    def from_configuration(
        cls, configuration: Any, *, timeout: float = 30.0, metrics: Metrics | None = None
    ) -> KubeClient:
        """Open a session for an already loaded Configuration (needs a running loop)."""
        try:
            ssl_ctx = _ssl_context(configuration)
        except (OSError, ssl.SSLError) as exc:
            raise ClientConfigError(f"cannot set up TLS for {configuration.host}: {exc}") from None
        _proxy_of(configuration)  # checked before a session exists: a bad proxy leaks nothing
        use_smaller_tls_read_buffers()
        # Every open watch holds a connection for its lifetime (HTTP/1.1): the managed
        # kinds, each tombstoned object and each template lookup have one, about 55 with
        # every feature on. Room for as many again keeps requests from queueing behind them.
        connector = aiohttp.TCPConnector(ssl=ssl_ctx, limit=128)
        session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            trust_env=False,
        )
        return cls(configuration, session, timeout=timeout, metrics=metrics)

    async def close(self) -> None:
        """Close the shared session."""
        await self._session.close()

    # ``KubeClient.create(kubeconfig=...)`` opens a client; ``client.create(res, obj)``
    # creates an object. Both names are part of the shared interface.
    create = _Create()

    # -- low level -----------------------------------------------------------------------

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        token = await self._cfg.get_api_key_with_prefix("BearerToken")
        if token:
            headers["Authorization"] = token if " " in token else f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _count(self, verb: str, code: str) -> None:
        if self.metrics is not None:
            self.metrics.api_requests_total.labels(verb=verb, code=code).inc()
        # Reachability for /healthz: any answer below 500 proves the server is there.
        if code in ("timeout", "error") or code.startswith("5"):
            if self._failing_since is None:
                self._failing_since = time.monotonic()
            self._last_failure = f"{verb} {code}"
        else:
            self._failing_since = None

    def reachability(self, *, unhealthy_after: float) -> tuple[bool, str]:
        """(ok, reason): not ok once every request has failed for ``unhealthy_after`` s."""
        if self._failing_since is None:
            return True, "ok"
        away = time.monotonic() - self._failing_since
        if away < unhealthy_after:
            return True, "ok"
        return False, (
            f"API server unreachable for {away:.0f}s (last failure: {self._last_failure})"
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | None = None,
        accept: str | None = None,
    ) -> dict[str, Any]:
        """One request; returns the decoded JSON body (``{}`` when empty).

        ``accept`` replaces the default ``application/json`` (content negotiation,
        e.g. aggregated discovery). Raises :class:`ApiError` for answers >= 400,
        :class:`ApiUnreachable` for transport failures and ``TimeoutError`` when the
        deadline passes.
        """
        total = self.timeout if timeout is None else timeout
        data = None if body is None else json.dumps(body).encode()
        headers = await self._headers(content_type if data is not None else None)
        if accept:
            headers["Accept"] = accept
        client_timeout = aiohttp.ClientTimeout(total=total, connect=min(CONNECT_TIMEOUT, total))
        verb = method.upper()
        try:
            async with self._session.request(
                verb,
                self.host + path,
                params=_params(query),
                data=data,
                headers=headers,
                timeout=client_timeout,
                server_hostname=self._server_hostname,
                proxy=self._proxy,
            ) as resp:
                text = await resp.text()
                self._count(verb, str(resp.status))
                if resp.status >= 400:
                    raise ApiError.from_response(
                        resp.status, text, retry_after_header=resp.headers.get("Retry-After")
                    )
        except TimeoutError:
            self._count(verb, "timeout")
            raise TimeoutError(f"{verb} {path}: no answer within {total:g}s") from None
        except aiohttp.ClientError as exc:
            self._count(verb, "error")
            raise ApiUnreachable(f"{verb} {path}: {_describe(exc)}") from None
        if not text:
            return {}
        try:
            decoded = json.loads(text)
        except ValueError:
            return {"text": text}
        return decoded if isinstance(decoded, dict) else {"items": decoded}

    @asynccontextmanager
    async def watch_stream(
        self, path: str, *, query: Query, read_timeout: float, accept: str | None = None
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Open a watch (``accept``: another representation); yields decoded events.

        Iterating raises ``TimeoutError`` when nothing (not even a bookmark)
        arrives for ``read_timeout`` seconds, :class:`ApiUnreachable` when the
        connection breaks, and ends when the server closes the stream.
        """
        headers = await self._headers(None)
        if accept:
            headers["Accept"] = accept
        params = _params({**query, "watch": "true"})
        client_timeout = aiohttp.ClientTimeout(
            total=None, connect=CONNECT_TIMEOUT, sock_connect=CONNECT_TIMEOUT
        )
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
            # that arrives as the awaited call completes, and the loop would run on.
            async with asyncio.timeout(max(read_timeout, CONNECT_TIMEOUT)):
                resp = await self._session.get(
                    self.host + path,
                    params=params,
                    headers=headers,
                    timeout=client_timeout,
                    server_hostname=self._server_hostname,
                    proxy=self._proxy,
                )
        except TimeoutError:
            self._count("WATCH", "timeout")
            raise TimeoutError(f"WATCH {path}: no answer within {read_timeout:g}s") from None
        except aiohttp.ClientError as exc:
            self._count("WATCH", "error")
            raise ApiUnreachable(f"WATCH {path}: {_describe(exc)}") from None
        try:
            self._count("WATCH", str(resp.status))
            if resp.status >= 400:
                async with asyncio.timeout(read_timeout):
                    text = await resp.text()
                raise ApiError.from_response(
                    resp.status, text, retry_after_header=resp.headers.get("Retry-After")
                )
            yield _decode_events(resp, path, read_timeout)
        finally:
            resp.close()

def micro_time(moment: datetime | None = None) -> str:
    """A Kubernetes MicroTime in UTC, e.g. ``2026-01-01T00:00:00.000000Z``."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _params(query: Query | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (query or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _decode_events(
    resp: aiohttp.ClientResponse, path: str, read_timeout: float
) -> AsyncIterator[dict[str, Any]]:
    # Read raw chunks rather than lines: aiohttp's readline refuses lines above
    # its buffer limit, and one watch event can carry a large object.
    buf = b""
    while True:
        try:
            async with asyncio.timeout(read_timeout):  # (not wait_for: see watch_stream)
                chunk = await resp.content.readany()
        except TimeoutError:
            raise TimeoutError(f"WATCH {path}: silent for {read_timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise ApiUnreachable(f"WATCH {path}: {_describe(exc)}") from None
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                raise ApiUnreachable(f"WATCH {path}: undecodable event") from None
            if isinstance(event, dict):
                yield event
