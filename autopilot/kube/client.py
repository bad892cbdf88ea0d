"""A small asyncio client for the Kubernetes REST API.

Configuration (server, CA, client certificates, token, TLS verification) is
loaded by :mod:`autopilot.kube.kubeconfig`; the HTTP layer is one shared aiohttp
session built strictly from that configuration. Every request has a connect
and a total timeout; watches have a per-read inactivity timeout instead.

Errors: the API server's answer becomes :class:`ApiError` (its ``Status``
message kept verbatim, because operators grep logs for it); a transport failure
becomes :class:`ApiUnreachable` (a ``ConnectionError``) and a timeout stays a
``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, overload

import aiohttp

from autopilot import FIELD_MANAGER, __version__
from autopilot.kube import kubeconfig as kcfg
from autopilot.kube.resources import ResourceInfo

if TYPE_CHECKING:
    from autopilot.observability.metrics import Metrics

USER_AGENT = f"virt-platform-autopilot/{__version__}"
CONNECT_TIMEOUT = 10.0
Query = Mapping[str, str | int | bool | None]


class ConfigError(Exception):
    """The client configuration could not be loaded (one-line reason)."""


class ApiUnreachable(ConnectionError):
    """The API server could not be reached or the connection broke mid-request."""


@dataclass
class ApiError(Exception):
    """An error answer of the API server, parsed from its ``Status`` body."""

    status: int
    reason: str
    message: str
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}"

    @classmethod
    def from_response(
        cls, status: int, text: str, *, retry_after_header: str | None = None
    ) -> ApiError:
        """Build the error from a status code and the raw response body."""
        body: dict[str, Any] = {}
        try:
            parsed = json.loads(text) if text else {}
            if isinstance(parsed, dict):
                body = parsed
        except ValueError:
            pass
        reason = str(body.get("reason") or _REASONS.get(status, "Unknown"))
        message = str(body.get("message") or text.strip() or f"HTTP {status}")
        retry_after = _parse_retry_after(retry_after_header)
        details = body.get("details")
        if retry_after is None and isinstance(details, dict):
            retry_after = _parse_retry_after(details.get("retryAfterSeconds"))
        return cls(status, reason, message, body, retry_after)


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def _parse_retry_after(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        seconds = float(str(value))
    except ValueError:
        return None
    return max(0.0, seconds)


async def load_configuration(kubeconfig: str | os.PathLike[str] | None = None) -> Any:
    """Load the client configuration.

    Order: an explicit kubeconfig; in-cluster when ``KUBERNETES_SERVICE_HOST``
    is set; ``$KUBECONFIG``; ``~/.kube/config``. Read by :mod:`autopilot.kube.kubeconfig`;
    users with exec/auth-provider plugins go through ``kubernetes_asyncio``.
    """
    try:
        if kubeconfig is not None:
            path = Path(kubeconfig)
            if not await asyncio.to_thread(path.is_file):
                raise ConfigError(f"kubeconfig {path} does not exist")
            return await _from_kubeconfig([path])
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            return await asyncio.to_thread(kcfg.load_incluster)
        env = os.environ.get("KUBECONFIG", "")
        paths = env or str(Path.home() / ".kube" / "config")
        existing = await asyncio.to_thread(_existing_files, paths)
        if not existing:
            raise ConfigError(
                "no Kubernetes configuration: not in a pod, no --kubeconfig, "
                f"and {paths} does not exist"
            )
        return await _from_kubeconfig(existing)
    except ConfigError:
        raise
    except Exception as exc:  # the loaders raise many types; the user needs one line
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ConfigError(f"cannot load Kubernetes configuration: {detail}") from None


async def _from_kubeconfig(paths: list[Path]) -> Any:
    try:
        return await asyncio.to_thread(kcfg.load_kubeconfig, paths)
    except kcfg.NeedsPlugin:
        pass
    # Exec/auth-provider plugins: kubernetes_asyncio implements them (a large import,
    # paid only by the configurations that need it).
    from kubernetes_asyncio import client as k8s_client
    from kubernetes_asyncio import config as k8s_config

    cfg = k8s_client.Configuration()
    await k8s_config.load_kube_config(
        config_file=os.pathsep.join(str(p) for p in paths), client_configuration=cfg,
        persist_config=False,
    )
    return cfg


def _existing_files(paths: str) -> list[Path]:
    return [Path(p) for p in paths.split(os.pathsep) if p and Path(p).is_file()]


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


class _Connect(Protocol):
    def __call__(
        self,
        kubeconfig: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        metrics: Metrics | None = None,
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


class KubeClient:
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
        self._failing_since: float | None = None
        self._last_failure = ""

    @classmethod
    async def connect(
        cls,
        kubeconfig: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        metrics: Metrics | None = None,
    ) -> KubeClient:
        """Load the configuration and open the shared session."""
        cfg = await load_configuration(kubeconfig)
        return cls.from_configuration(cfg, timeout=timeout, metrics=metrics)

    @classmethod
    def from_configuration(
        cls, configuration: Any, *, timeout: float = 30.0, metrics: Metrics | None = None
    ) -> KubeClient:
        """Open a session for an already loaded Configuration (needs a running loop)."""
        try:
            ssl_ctx = _ssl_context(configuration)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot set up TLS for {configuration.host}: {exc}") from None
        connector = aiohttp.TCPConnector(ssl=ssl_ctx, limit=64)
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
    ) -> dict[str, Any]:
        """One request; returns the decoded JSON body (``{}`` when empty).

        Raises :class:`ApiError` for answers >= 400, :class:`ApiUnreachable` for
        transport failures and ``TimeoutError`` when the deadline passes.
        """
        total = self.timeout if timeout is None else timeout
        data = None if body is None else json.dumps(body).encode()
        headers = await self._headers(content_type if data is not None else None)
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
        self, path: str, *, query: Query, read_timeout: float
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Open a watch; yields an iterator of decoded events.

        Iterating raises ``TimeoutError`` when nothing (not even a bookmark)
        arrives for ``read_timeout`` seconds, :class:`ApiUnreachable` when the
        connection breaks, and ends when the server closes the stream.
        """
        headers = await self._headers(None)
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

    # -- conveniences -----------------------------------------------------------------

    async def get(
        self, res: ResourceInfo, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return await self.request("GET", res.path(namespace=namespace, name=name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def list(
        self,
        res: ResourceInfo,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
        timeout: float | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """All objects (following ``continue``) and the list's resourceVersion.

        Items get ``apiVersion`` and ``kind`` filled in (list items lack them).
        ``transform`` is applied to each item as its page arrives, so a caller that
        keeps only part of each object never holds every full page at once.
        """
        items: list[dict[str, Any]] = []
        cont: str | None = None
        rv = ""
        while True:
            query: dict[str, str | int | None] = {
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "limit": limit,
                "continue": cont,
            }
            page = await self.request("GET", res.path(namespace=namespace), query=query,
                                      timeout=timeout)
            for item in page.get("items") or []:
                if isinstance(item, dict):
                    item.setdefault("apiVersion", res.api_version)
                    item.setdefault("kind", res.kind)
                    items.append(item if transform is None else transform(item))
            meta = page.get("metadata") or {}
            rv = str(meta.get("resourceVersion") or rv)
            cont = meta.get("continue") or None
            if not cont:
                return items, rv

    async def apply(
        self,
        res: ResourceInfo,
        obj: dict[str, Any],
        *,
        force: bool = True,
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        """Server-side apply ``obj`` (sent as JSON, which is valid YAML)."""
        meta = obj.get("metadata") or {}
        path = res.path(namespace=meta.get("namespace") or None, name=str(meta.get("name", "")))
        query: dict[str, str | None] = {
            "fieldManager": field_manager,
            "force": "true" if force else None,
            "dryRun": "All" if dry_run else None,
        }
        return await self.request(
            "PATCH", path, query=query, body=obj, content_type="application/apply-patch+yaml"
        )

    async def create_object(
        self,
        res: ResourceInfo,
        obj: dict[str, Any],
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        """POST a new object."""
        ns = namespace or (obj.get("metadata") or {}).get("namespace") or None
        query = {"fieldManager": field_manager, "dryRun": "All" if dry_run else None}
        return await self.request("POST", res.path(namespace=ns), query=query, body=obj)

    async def replace(
        self, res: ResourceInfo, obj: dict[str, Any], *, field_manager: str = FIELD_MANAGER
    ) -> dict[str, Any]:
        """PUT the object (optimistic concurrency through its resourceVersion)."""
        meta = obj.get("metadata") or {}
        path = res.path(namespace=meta.get("namespace") or None, name=str(meta.get("name", "")))
        return await self.request("PUT", path, query={"fieldManager": field_manager}, body=obj)

    async def patch(
        self,
        res: ResourceInfo,
        name: str,
        body: Any,
        *,
        namespace: str | None = None,
        patch_type: str = "merge",
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        """A merge (``merge``) or JSON (``json``) patch."""
        content_types = {
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
            "strategic": "application/strategic-merge-patch+json",
        }
        if patch_type not in content_types:
            raise ValueError(f"unknown patch type {patch_type!r}")
        query = {"fieldManager": field_manager, "dryRun": "All" if dry_run else None}
        return await self.request(
            "PATCH",
            res.path(namespace=namespace, name=name),
            query=query,
            body=body,
            content_type=content_types[patch_type],
        )

    async def delete(
        self, res: ResourceInfo, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """Delete the object; None when it was already gone."""
        try:
            return await self.request("DELETE", res.path(namespace=namespace, name=name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise


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
