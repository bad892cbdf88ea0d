"""The aiohttp application: authentication, test controls, routing to the verbs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from aiohttp import web
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from kubesim import access, discovery, protobuf, rbac, reads, table, watch, webhooks
from kubesim.errors import (
    SimError,
    bad_request,
    forbidden,
    method_not_allowed,
    not_found,
    page_not_found,
    status_body,
)
from kubesim.rbac import Identity
from kubesim.request import ApiRequest, truthy
from kubesim.state import SimState
from kubesim.writes import Writer

T = TypeVar("T")
PUBLIC = ("/healthz", "/readyz", "/livez", "/version", "/openapi/v2")
_SUBRESOURCES = ("status",)
STATE_KEY: web.AppKey[SimState] = web.AppKey("state", SimState)
WRITER_KEY: web.AppKey[Writer] = web.AppKey("writer", Writer)


def _json(body: Any, status: int = 200, content_type: str = "application/json") -> web.Response:
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=status,
                        headers={"Content-Type": content_type})


def _error(exc: SimError) -> web.Response:
    if exc.plain_text is not None:
        resp = web.Response(text=exc.plain_text, status=exc.code, content_type="text/plain",
                            charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})
        resp.headers.update(exc.headers)
        return resp
    resp = _json(exc.body(), exc.code)
    resp.headers.update(exc.headers)
    return resp


def _verb(method: str, name: str, query: Any) -> str:
    if method == "GET":
        if truthy(query.get("watch")):
            return "watch"
        return "get" if name else "list"
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if "protobuf" in content_type:
        return protobuf.decode(raw)
    if "cbor" in content_type:
        raise SimError(415, f'the body of the request was in an unknown format - accepted media '
                       f'types include: application/json, application/yaml (kubesim does not '
                       f'decode "{content_type}")', reason="UnsupportedMediaType")
    try:
        return json.loads(raw)
    except ValueError:
        pass
    if "yaml" in content_type:
        try:
            return YAML(typ="safe", pure=True).load(raw.decode())
        except YAMLError as exc:
            raise bad_request(f"error decoding YAML: {exc}") from exc
    raise bad_request("the body of the request was in an unknown format")


def _discovery(path: str) -> bool:
    """Whether ``path`` is a discovery, OpenAPI or version document (no resource)."""
    segs = path.strip("/").split("/")
    return (path in ("/version", "/api", "/apis") or path.startswith("/openapi/")
            or (segs[0] == "apis" and len(segs) in (2, 3)) or (segs[0] == "api" and len(segs) == 2))


async def _hang(request: web.Request, limit: float = 600.0) -> None:
    """Never answer: wait until the client gives up (or a long while passed)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.1)


class Router:
    """Turns HTTP requests into API operations on one :class:`SimState`."""

    def __init__(self, state: SimState, *, server_address: str = "127.0.0.1") -> None:
        self.state = state
        self.writer = Writer(state)
        self.server_address = server_address

    def _identity(self, request: web.Request) -> Identity | None:
        auth = request.headers.get("Authorization", "")
        if not auth.lower().startswith("bearer "):
            return None
        return self.state.controls.identity_for(auth[7:].strip())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for every request."""
        try:
            return await self._handle(request)
        except SimError as exc:
            return _error(exc)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        who = self._identity(request)
        # A bad token is refused everywhere; no token at all only reaches the public paths.
        if who is None and ("Authorization" in request.headers or path not in PUBLIC):
            return _json(status_body(401, "Unauthorized"), 401)
        if who is not None:
            try:
                who = access.impersonated(self.state.store, who, request.headers,
                                          request.headers.getall("Impersonate-Group", []))
            except access.ImpersonationRefused as refused:
                raise self._impersonation_refused(request, path, who, refused.mode) from None
        if path in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok", content_type="text/plain")
        if _discovery(path):
            # Discovery and OpenAPI are requests like any other: counted, slowed, failed.
            await self._inject(request, verb=_verb(request.method, "-", {}), resource="",
                               dry_run=False)
        accept = request.headers.get("Accept", "application/json")
        registry = self.state.registry
        if path == "/version":
            return _json(discovery.VERSION_INFO)
        if path == "/openapi/v2":
            return _json(discovery.openapi_v2())
        if path == "/openapi/v3":
            # The real server labels the index text/plain (its body is JSON all the same).
            return _json(discovery.openapi_index(registry), 200, "text/plain; charset=utf-8")
        if path.startswith("/openapi/v3/"):
            return self._openapi_gv(path[len("/openapi/v3/"):])
        if path == "/api":
            if discovery.wants_aggregated(accept):
                return _json(discovery.aggregated(registry, core=True), 200,
                             discovery.AGGREGATED)
            return _json(discovery.core_versions(self.server_address))
        hidden = self.state.controls.hidden_groups
        if path == "/apis":
            if discovery.wants_aggregated(accept):
                return _json(discovery.without_groups(
                    discovery.aggregated(registry, core=False), hidden), 200,
                    discovery.AGGREGATED)
            return _json(discovery.without_groups(discovery.group_list(registry), hidden))
        if path == access.SELF_REVIEW_PATH:
            if request.method != "POST":
                raise method_not_allowed()
            return _json(access.self_review(self.state.store, who or Identity(""),
                                            await request.read()), 201)
        if path == access.RULES_REVIEW_PATH:
            if request.method != "POST":
                raise method_not_allowed()
            return _json(access.rules_review(self.state.store, who or Identity(""),
                                             await request.read()), 201)
        segs = path.strip("/").split("/")
        if segs[0] == "apis" and len(segs) == 2:
            doc = discovery.group(registry, segs[1])
            if doc is None:
                raise page_not_found(segs[1])
            return _json(doc)
        if segs[0] == "api" and len(segs) >= 2:
            group, version, rest = "", segs[1], segs[2:]
        elif segs[0] == "apis" and len(segs) >= 3:
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise page_not_found()
        if not rest:
            doc = discovery.resource_list(registry, group, version)
            if doc is None:
                raise page_not_found(group)
            return _json(doc)
        req = self._api_request(request, group, version, rest, who or Identity(""))
        return await self._serve(request, req, accept)

    def _impersonation_refused(self, request: web.Request, path: str, who: Identity,
                               mode: str) -> SimError:
        """403 for a refused impersonation, worded for the request as v1.36 words it."""
        segs = path.strip("/").split("/")
        verb = _verb(request.method, "-", {})
        if segs[0] == "api" and len(segs) >= 3:
            parts: tuple[str, str, list[str]] | None = ("", segs[1], segs[2:])
        elif segs[0] == "apis" and len(segs) >= 4:
            parts = (segs[1], segs[2], segs[3:])
        else:
            parts = None
        if parts is not None:
            try:
                req = self._api_request(request, *parts, who)
            except SimError:
                pass
            else:
                return forbidden(user=who.user, verb=f"impersonate-on:{mode}:{req.verb}",
                                 plural=req.rtype.plural, group=req.rtype.group,
                                 namespace=req.namespace, name=req.name or None,
                                 subresource=req.subresource)
        return SimError(403, f'forbidden: User "{who.user}" cannot impersonate-on:{mode}:'
                             f'{verb} path "{path}"')

    def _openapi_gv(self, rel: str) -> web.Response:
        parts = rel.split("/")
        if parts[0] == "api" and len(parts) == 2:
            doc = discovery.openapi_gv(self.state.registry, "", parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            doc = discovery.openapi_gv(self.state.registry, parts[1], parts[2])
        else:
            doc = None
        if doc is None:
            raise page_not_found("")  # a Status, as before (the real server sends no body)
        return _json(doc)

    def _api_request(self, request: web.Request, group: str, version: str, rest: list[str],
                     who: Identity) -> ApiRequest:
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and not (
                len(rest) == 3 and rest[2] in ("status", "finalize")):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise page_not_found(group)
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        rtype = self.state.registry.lookup(group, version, plural)
        if rtype is None or (sub and (sub not in _SUBRESOURCES or not rtype.status_subresource)):
            # The real server authorises before it routes: an unserved resource or
            # subresource (pods/exec, serviceaccounts/token, ...) is a 403 when RBAC
            # refuses, a 404 only for who may ask.
            verb = _verb(request.method, name, dict(request.query))
            if not rbac.allowed(self.state.store, who, verb=verb, group=group, resource=plural,
                                subresource=sub, namespace=namespace, name=name):
                raise forbidden(user=who.user, verb=verb, plural=plural, group=group,
                                namespace=namespace, name=name or None, subresource=sub)
            if rtype is not None and rtype.crd_name:
                # A custom resource's handler answers any subresource its CRD does not
                # define as the object not found (whether or not it exists).
                raise not_found(plural, group, name)
            raise page_not_found(group)
        if namespace and not rtype.namespaced:
            raise page_not_found(group)
        query = dict(request.query)
        verb = _verb(request.method, name, query)
        return ApiRequest(rtype=rtype, version=version, namespace=namespace, name=name,
                          subresource=sub, verb=verb, query=query, user=who.user,
                          groups=who.groups, user_agent=request.headers.get("User-Agent", ""))

    async def _inject(self, request: web.Request, *, verb: str, resource: str,
                      dry_run: bool, namespace: str = "", name: str = "") -> None:
        """Count and log the request, then apply the test controls' latency and error rules."""
        controls = self.state.controls
        controls.record(verb=verb, resource=resource,
                        user_agent=request.headers.get("User-Agent", ""), dry_run=dry_run,
                        namespace=namespace, name=name)
        delay = controls.latency_for(verb, resource)
        if delay > 0:
            await asyncio.sleep(delay)
        rule = controls.take_error(verb, resource)
        if rule is not None:
            if rule.hang:
                await _hang(request)
                raise SimError(504, "the request timed out", reason="Timeout")
            if rule.reset and request.transport is not None:
                request.transport.abort()
            headers: dict[str, str] = {}
            details: dict[str, Any] | None = None
            if rule.retry_after is not None:
                headers["Retry-After"] = str(int(rule.retry_after + 0.999))
                details = {"retryAfterSeconds": int(rule.retry_after + 0.999)}
            message = rule.message or {
                429: "Too many requests, please try again later.",
                503: "the server is currently unable to handle the request",
            }.get(rule.status, "Internal error occurred: injected by kubesim")
            raise SimError(rule.status, message, details=details, headers=headers)

    async def _faults(self, request: web.Request, req: ApiRequest) -> None:
        controls = self.state.controls
        resource = req.rtype.plural
        await self._inject(request, verb=req.verb, resource=resource, dry_run=req.dry_run,
                           namespace=req.namespace, name=req.name)
        granted = rbac.allowed(self.state.store, req.identity, verb=req.verb,
                               group=req.rtype.group, resource=resource,
                               subresource=req.subresource, namespace=req.namespace,
                               name=req.name)
        if not granted or controls.rbac_denied(user=req.user, verb=req.verb, resource=resource,
                                               group=req.rtype.group, namespace=req.namespace):
            raise forbidden(user=req.user, verb=req.verb, plural=resource,
                            group=req.rtype.group, namespace=req.namespace,
                            name=req.name or None, subresource=req.subresource)

    async def _serve(self, request: web.Request, req: ApiRequest,
                     accept: str) -> web.StreamResponse:
        await self._faults(request, req)
        form = table.wanted_form(accept)
        state = self.state
        if req.verb == "watch":
            return await watch.serve_watch(request, state, req, form)
        if req.verb == "get":
            return _json(reads.get_object(state, req, form))
        if req.verb == "list":
            return _json(reads.list_objects(state, req, form))
        if req.rtype.namespaced and not req.namespace:
            raise method_not_allowed()
        if req.verb == "create" and req.name:
            raise method_not_allowed()
        raw = await request.read()
        ctype = request.headers.get("Content-Type", "application/json")
        if req.verb == "deletecollection":
            code, obj = await self._delete_collection(req, _parse_body(raw, ctype))
        else:
            code, obj = await self._reviewed(req, lambda: self._write(req, raw, ctype))
        late = state.controls.answer_delay_for(req.verb, req.rtype.plural)
        if late > 0:
            await asyncio.sleep(late)  # the write is done and seen; only the answer waits
        return _json(obj, code)

    @staticmethod
    async def _reviewed(req: ApiRequest, write: Callable[[], T]) -> T:
        """Run a write; when webhooks must see it first, ask them, then run it again."""
        try:
            return write()
        except webhooks.ReviewNeeded as needed:
            await webhooks.review(needed.hooks, needed.review)
            req.webhooks_reviewed = True
            return write()

    def _write(self, req: ApiRequest, raw: bytes, ctype: str) -> tuple[int, Any]:
        if req.verb == "create":  # the writer names req after the body on the way
            return self.writer.create(req, _parse_body(raw, ctype))
        if req.verb == "update":
            return self.writer.update(req, _parse_body(raw, ctype))
        if req.verb == "patch":
            return self.writer.patch(req, raw, ctype)
        if req.verb == "delete":
            return self.writer.delete(req, _parse_body(raw, ctype))
        raise method_not_allowed()

    async def _delete_collection(self, req: ApiRequest, options: Any
                                 ) -> tuple[int, dict[str, Any]]:
        """Delete the selected objects one by one, each with the request's options.

        The first refusal (a precondition each object must meet) ends it, as the real
        server's single delete-collection worker stops at its first error.
        """
        selectors = {k: v for k, v in req.query.items() if k in ("labelSelector", "fieldSelector")}
        listed = reads.list_objects(self.state, replace(req, query=selectors), "json")
        for item in listed["items"]:
            one = replace(req, name=item["metadata"]["name"], verb="delete",
                          namespace=item["metadata"].get("namespace", ""), in_collection=True)
            # Each object is reviewed by the webhooks on its own, as on a real server.
            await self._reviewed(one, partial(self.writer.delete, one, options))
        return 200, listed


def build_app(state: SimState, *, server_address: str = "127.0.0.1") -> web.Application:
    """An aiohttp app serving ``state``."""
    router = Router(state, server_address=server_address)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE_KEY] = state
    app[WRITER_KEY] = router.writer
    app.router.add_route("*", "/{tail:.*}", router.handle)
    return app
