"""HTTP surfaces of the controller: /metrics, /healthz + /readyz and /debug/... (contract §2).

Each surface is its own aiohttp application so it can be bound to its own
address (the debug server stays on loopback by default). Every error answer is
one line of plain text: the reason, never a traceback.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import io
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Protocol, TypeAlias, TypeVar

import structlog
from aiohttp import web

from autopilot.observability.exposition import CONTENT_TYPE
from autopilot.observability.metrics import Metrics

log = structlog.get_logger(__name__)

DEFAULT_METRICS_BIND = ":8080"
DEFAULT_HEALTH_BIND = ":8082"
DEFAULT_DEBUG_BIND = "127.0.0.1:8081"

YAML_CONTENT_TYPE = "application/yaml; charset=utf-8"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

T = TypeVar("T")
MaybeAwaitable: TypeAlias = T | Awaitable[T]
HealthCheck = Callable[[], tuple[bool, str]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DebugProvider(Protocol):
    """What the debug endpoints need from the controller (its live render context).

    Methods may be plain or ``async``. They return plain data (dicts, lists,
    strings, numbers; dataclasses are converted). ``None`` means "not found".
    """

    def render(
        self, *, asset: str | None, show_excluded: bool, only_installed: bool
    ) -> MaybeAwaitable[list[dict[str, Any]] | None]:
        """Rendered documents of every asset (``asset=None``) or one; None = unknown asset."""
        ...

    def exclusions(self) -> MaybeAwaitable[object]:
        """The parsed ``disabled-resources`` exclusions in effect."""
        ...

    def features(self) -> MaybeAwaitable[object]:
        """Feature and asset status in the live context."""
        ...

    def tombstones(self) -> MaybeAwaitable[object]:
        """Tombstones and their last outcome."""
        ...

    def explain(self, kind: str, namespace: str, name: str) -> MaybeAwaitable[object | None]:
        """Why the object drifts or fails; None = not a managed object."""
        ...


# -- small helpers -----------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "error"


def _text(status: int, text: str, **headers: str) -> web.Response:
    return web.Response(
        status=status,
        text=_one_line(text) + "\n",
        headers={"Content-Type": TEXT_CONTENT_TYPE, **headers},
    )


class _BadRequest(Exception):
    """A query problem answered with 400 and this one-line reason."""


def _get_only(handler: Handler) -> Handler:
    """Wrap ``handler`` so every other method gets a one-line 405."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        if request.method != "GET":
            return _text(405, f"method {request.method} not allowed; use GET", Allow="GET")
        return await handler(request)

    return wrapped


def _route(app: web.Application, path: str, handler: Handler) -> None:
    app.router.add_route("*", path, _get_only(handler))


# -- /metrics --------------------------------------------------------------------


def metrics_app(
    metrics: Metrics, *, view: Callable[[], Awaitable[bytes]] | None = None
) -> web.Application:
    """An app serving the Prometheus text format.

    ``/metrics/replica``: this replica's own series (what Prometheus scrapes).
    ``/metrics``: what ``view`` renders (the leader's per-object series on every
    replica, for people), else the same as ``/metrics/replica``.
    """

    async def replica(_: web.Request) -> web.StreamResponse:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    async def viewed(_: web.Request) -> web.StreamResponse:
        body = await view() if view is not None else metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    _route(app, "/metrics", viewed)
    _route(app, "/metrics/replica", replica)
    return app


# -- /healthz, /readyz -------------------------------------------------------------


def health_app(*, healthz: HealthCheck, readyz: HealthCheck) -> web.Application:
    """An app answering ``/healthz`` and ``/readyz``: 200 ``ok`` or 500 with the reason."""

    def probe(check: HealthCheck) -> Handler:
        async def handle(_: web.Request) -> web.StreamResponse:
            try:
                ok, reason = check()
            except Exception as exc:
                return _text(500, f"check failed: {type(exc).__name__}: {exc}")
            return _text(200, "ok") if ok else _text(500, reason or "not ok")

        return handle

    app = web.Application()
    _route(app, "/healthz", probe(healthz))
    _route(app, "/readyz", probe(readyz))
    return app


# -- /debug/... --------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Turn provider results into JSON/YAML-safe plain data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _dump(value: Any, *, fmt: str, documents: bool) -> web.Response:
    data = _plain(value)
    if fmt == "json":
        body = json.dumps(data, indent=2, sort_keys=False) + "\n"
        return web.Response(text=body, headers={"Content-Type": JSON_CONTENT_TYPE})
    # Imported on a debug request only: ruamel is not otherwise on the controller's path.
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buf = io.StringIO()
    if documents:
        # One YAML document per rendered object, as `kubectl apply -f -` takes them.
        yaml.explicit_start = True
        yaml.dump_all(data, buf)
    else:
        yaml.dump(data, buf)
    return web.Response(text=buf.getvalue(), headers={"Content-Type": YAML_CONTENT_TYPE})


_BOOL_WORDS = {"true": True, "false": False, "": True}


def _query(request: web.Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """Validate the query: known keys only, each at most once."""
    seen: dict[str, str] = {}
    for key, value in request.query.items():
        if key not in allowed:
            raise _BadRequest(f"unknown query parameter {key!r} (known: {', '.join(allowed)})")
        if key in seen:
            raise _BadRequest(f"query parameter {key!r} given more than once")
        seen[key] = value
    return seen


def _format(query: Mapping[str, str]) -> str:
    fmt = query.get("format", "yaml").lower()
    if fmt not in ("yaml", "json"):
        raise _BadRequest(f"invalid format {query['format']!r}: expected yaml or json")
    return fmt


def _flag(query: Mapping[str, str], key: str) -> bool:
    raw = query.get(key, "false")
    try:
        return _BOOL_WORDS[raw.lower()]
    except KeyError:
        raise _BadRequest(f"invalid {key} {raw!r}: expected true or false") from None


async def _call(result: MaybeAwaitable[T]) -> T:
    if inspect.isawaitable(result):
        return await result
    return result


Body = Callable[[web.Request, Mapping[str, str]], Awaitable[web.StreamResponse]]


def _endpoint(what: str, allowed: tuple[str, ...], body: Body) -> Handler:
    """A debug handler: validated query, one-line 400/500 answers, failures logged."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            query = _query(request, allowed)
            return await body(request, query)
        except _BadRequest as exc:
            return _text(400, str(exc))
        except Exception as exc:
            log.error(
                "debug endpoint failed",
                endpoint=what,
                error=str(exc),
                error_type=type(exc).__name__,
            )
            return _text(500, f"{what} failed: {type(exc).__name__}: {exc}")

    return handle


def _simple(method: Callable[[], MaybeAwaitable[object]]) -> Body:
    """A body answering with ``method()`` as one document."""

    async def body(_: web.Request, query: Mapping[str, str]) -> web.StreamResponse:
        fmt = _format(query)
        return _dump(await _call(method()), fmt=fmt, documents=False)

    return body


def debug_app(provider: DebugProvider) -> web.Application:
    """An app with the debug endpoints of contract §2, backed by ``provider``."""

    async def render(request: web.Request, query: Mapping[str, str]) -> web.StreamResponse:
        fmt = _format(query)
        show_excluded = _flag(query, "show-excluded")
        only_installed = _flag(query, "only-installed")
        asset = request.match_info.get("asset")
        docs = await _call(
            provider.render(asset=asset, show_excluded=show_excluded, only_installed=only_installed)
        )
        if docs is None:
            return _text(404, f"unknown asset {asset!r}")
        return _dump(docs, fmt=fmt, documents=True)

    async def explain(request: web.Request, query: Mapping[str, str]) -> web.StreamResponse:
        fmt = _format(query)
        kind = request.match_info["kind"]
        namespace = request.match_info["namespace"]
        namespace = "" if namespace == "_" else namespace
        name = request.match_info["name"]
        result = await _call(provider.explain(kind, namespace, name))
        if result is None:
            where = f"namespace {namespace}" if namespace else "cluster scope"
            return _text(404, f"no managed {kind} {name!r} in {where}")
        return _dump(result, fmt=fmt, documents=False)

    render_query = ("format", "show-excluded", "only-installed")
    app = web.Application()
    _route(app, "/debug/render", _endpoint("render", render_query, render))
    _route(app, "/debug/render/{asset}", _endpoint("render", render_query, render))
    _route(
        app, "/debug/exclusions",
        _endpoint("exclusions", ("format",), _simple(provider.exclusions)),
    )
    _route(app, "/debug/features", _endpoint("features", ("format",), _simple(provider.features)))
    _route(
        app, "/debug/tombstones",
        _endpoint("tombstones", ("format",), _simple(provider.tombstones)),
    )
    _route(
        app, "/debug/explain/{kind}/{namespace}/{name}", _endpoint("explain", ("format",), explain)
    )
    return app


# -- binding and serving -------------------------------------------------------------


def parse_bind_address(text: str) -> tuple[str, int] | None:
    """Parse ``[HOST]:PORT``; an empty host means every interface; ``""`` means disabled."""
    raw = text.strip()
    if not raw:
        return None
    host, sep, port_text = raw.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"invalid bind address {text!r}: expected [HOST]:PORT, e.g. ':8080'")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # [::1]:8081
    elif ":" in host:
        raise ValueError(f"invalid bind address {text!r}: put IPv6 hosts in brackets")
    if any(c.isspace() for c in host):
        raise ValueError(f"invalid bind address {text!r}: host contains whitespace")
    return (host or "0.0.0.0", int(port_text))


@dataclass
class Served:
    """A running HTTP server; ``port`` is the bound one (useful when asked for 0)."""

    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        """Base URL a client on this machine can use."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        """Stop accepting, finish in-flight requests briefly, release the socket."""
        await self.runner.cleanup()


async def serve(
    app: web.Application, bind: str | tuple[str, int], *, shutdown_timeout: float = 5.0
) -> Served:
    """Start ``app`` on ``bind`` (an address string or ``(host, port)``)."""
    address = parse_bind_address(bind) if isinstance(bind, str) else bind
    if address is None:
        raise ValueError("serve() needs an address; an empty bind address disables the server")
    host, port = address
    # Probes and scrapes are frequent; an access log line for each would drown the real logs.
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = port
    for sockname in runner.addresses:
        if isinstance(sockname, tuple) and len(sockname) >= 2:
            bound = int(sockname[1])
            break
    return Served(runner=runner, host=host, port=bound)
