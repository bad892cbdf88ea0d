"""The HTTP surfaces: /metrics, health probes and the debug endpoints, over real sockets."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from ruamel.yaml import YAML

from autopilot.config import add_run_arguments
from autopilot.observability.metrics import Metrics
from autopilot.web import (
    DEFAULT_DEBUG_BIND,
    DEFAULT_HEALTH_BIND,
    DEFAULT_METRICS_BIND,
    Served,
    debug_app,
    health_app,
    metrics_app,
    parse_bind_address,
    serve,
)

TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass
class Exclusion:
    kind: str
    name: str


@dataclass
class FakeProvider:
    """Records calls; ``fail`` makes every method raise."""

    fail: bool = False
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def _check(self) -> None:
        if self.fail:
            raise RuntimeError("template exploded\nsecond line")

    def render(
        self, *, asset: str | None, show_excluded: bool, only_installed: bool
    ) -> list[dict[str, Any]] | None:
        self.calls.append(
            ("render", {"asset": asset, "show_excluded": show_excluded,
                        "only_installed": only_installed})
        )
        self._check()
        if asset not in (None, "swap"):
            return None
        docs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}]
        if asset is None:
            docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}})
        return docs

    async def exclusions(self) -> object:
        self._check()
        return [Exclusion(kind="ConfigMap", name="x-*")]

    def features(self) -> object:
        self._check()
        return {"features": [{"name": "swap", "active": True}]}

    async def tombstones(self) -> object:
        self._check()
        return {"tombstones": [{"kind": "ConfigMap", "status": -2}]}

    def explain(self, kind: str, namespace: str, name: str) -> object | None:
        self.calls.append(("explain", {"kind": kind, "namespace": namespace, "name": name}))
        self._check()
        if name == "missing":
            return None
        return {"kind": kind, "namespace": namespace, "name": name, "compliance": 1}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        yield s


async def started(app: web.Application) -> AsyncIterator[Served]:
    served = await serve(app, "127.0.0.1:0")
    try:
        yield served
    finally:
        await served.close()


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
async def debug(provider: FakeProvider) -> AsyncIterator[Served]:
    async for s in started(debug_app(provider)):
        yield s


async def get(
    session: aiohttp.ClientSession, url: str, method: str = "GET"
) -> tuple[int, str, str]:
    async with session.request(method, url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


def one_line(text: str) -> bool:
    return text.endswith("\n") and "\n" not in text[:-1] and text.strip() != ""


# -- /metrics ------------------------------------------------------------------------


async def test_metrics_endpoint_serves_exposition(session: aiohttp.ClientSession) -> None:
    m = Metrics()
    m.set_compliance("ConfigMap", "cfg", "openshift-cnv", ok=False)
    async for s in started(metrics_app(m)):
        status, ctype, body = await get(session, s.url + "/metrics")
        assert status == 200
        assert ctype.startswith("text/plain; version=0.0.4")
        assert (
            'virt_platform_compliance_status{kind="ConfigMap",name="cfg",'
            'namespace="openshift-cnv"} 0' in body.splitlines()
        )
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            status, _, text = await get(session, s.url + "/metrics", method)
            assert status == 405 and one_line(text)
        status, _, _ = await get(session, s.url + "/nope")
        assert status == 404


# -- health ------------------------------------------------------------------------


async def test_health_probes(session: aiohttp.ClientSession) -> None:
    state = {"live": (True, ""), "ready": (False, "informers not synced:\nConfigMap")}

    def boom() -> tuple[bool, str]:
        raise RuntimeError("probe broke")

    async for s in started(
        health_app(healthz=lambda: state["live"], readyz=lambda: state["ready"])
    ):
        assert await get(session, s.url + "/healthz") == (
            200, "text/plain; charset=utf-8", "ok\n")
        status, _, text = await get(session, s.url + "/readyz")
        assert status == 500 and text == "informers not synced: ConfigMap\n"

        state["ready"] = (True, "")
        assert (await get(session, s.url + "/readyz"))[0] == 200
        state["live"] = (False, "watch loop for ConfigMap is stuck")
        status, _, text = await get(session, s.url + "/healthz")
        assert (status, text) == (500, "watch loop for ConfigMap is stuck\n")

        for path in ("/healthz", "/readyz"):
            status, _, text = await get(session, s.url + path, "POST")
            assert status == 405 and one_line(text)

    async for s in started(health_app(healthz=boom, readyz=boom)):
        status, _, text = await get(session, s.url + "/healthz")
        assert status == 500 and one_line(text) and "probe broke" in text


# -- debug -------------------------------------------------------------------------


def load_yaml_docs(text: str) -> list[Any]:
    return list(YAML(typ="safe", pure=True).load_all(text))


async def test_render_defaults_to_yaml_documents(
    session: aiohttp.ClientSession, debug: Served, provider: FakeProvider
) -> None:
    status, ctype, body = await get(session, debug.url + "/debug/render")
    assert status == 200 and ctype.startswith("application/yaml")
    docs = load_yaml_docs(body)
    assert [d["metadata"]["name"] for d in docs] == ["a", "b"]
    assert provider.calls[-1] == (
        "render", {"asset": None, "show_excluded": False, "only_installed": False})


async def test_render_one_asset_as_json_with_flags(
    session: aiohttp.ClientSession, debug: Served, provider: FakeProvider
) -> None:
    status, ctype, body = await get(
        session,
        debug.url + "/debug/render/swap?format=json&show-excluded=true&only-installed=TRUE",
    )
    assert status == 200 and ctype.startswith("application/json")
    assert [d["metadata"]["name"] for d in json.loads(body)] == ["a"]
    assert provider.calls[-1] == (
        "render", {"asset": "swap", "show_excluded": True, "only_installed": True})


async def test_render_unknown_asset_is_404(
    session: aiohttp.ClientSession, debug: Served
) -> None:
    status, _, text = await get(session, debug.url + "/debug/render/no-such-asset")
    assert status == 404 and one_line(text) and "no-such-asset" in text


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("format=xml", "invalid format 'xml'"),
        ("show-excluded=maybe", "invalid show-excluded 'maybe'"),
        ("only-installed=2", "invalid only-installed '2'"),
        ("show_excluded=true", "unknown query parameter 'show_excluded'"),
        ("format=json&format=yaml", "more than once"),
    ],
)
async def test_render_bad_query_is_400(
    session: aiohttp.ClientSession, debug: Served, query: str, needle: str
) -> None:
    status, ctype, text = await get(session, debug.url + "/debug/render?" + query)
    assert status == 400 and ctype.startswith("text/plain") and one_line(text)
    assert needle in text


@pytest.mark.parametrize("path", ["/debug/exclusions", "/debug/features", "/debug/tombstones"])
async def test_simple_endpoints_yaml_and_json(
    session: aiohttp.ClientSession, debug: Served, path: str
) -> None:
    status, _, as_yaml = await get(session, debug.url + path)
    assert status == 200
    status, _, as_json = await get(session, debug.url + path + "?format=json")
    assert status == 200
    assert load_yaml_docs(as_yaml) == [json.loads(as_json)]
    status, _, text = await get(session, debug.url + path + "?format=xml")
    assert status == 400 and one_line(text)
    status, _, text = await get(session, debug.url + path + "?show-excluded=true")
    assert status == 400 and "unknown query parameter" in text


async def test_exclusions_dataclasses_become_plain_data(
    session: aiohttp.ClientSession, debug: Served
) -> None:
    _, _, body = await get(session, debug.url + "/debug/exclusions?format=json")
    assert json.loads(body) == [{"kind": "ConfigMap", "name": "x-*"}]


async def test_explain_namespaced_and_cluster_scoped(
    session: aiohttp.ClientSession, debug: Served, provider: FakeProvider
) -> None:
    status, _, body = await get(
        session, debug.url + "/debug/explain/ConfigMap/openshift-cnv/cfg?format=json")
    assert status == 200
    assert json.loads(body)["namespace"] == "openshift-cnv"
    status, _, body = await get(session, debug.url + "/debug/explain/MachineConfig/_/90-swap")
    assert status == 200
    assert load_yaml_docs(body)[0] == {
        "kind": "MachineConfig", "namespace": "", "name": "90-swap", "compliance": 1}
    assert provider.calls[-1] == (
        "explain", {"kind": "MachineConfig", "namespace": "", "name": "90-swap"})
    status, _, text = await get(session, debug.url + "/debug/explain/ConfigMap/ns/missing")
    assert status == 404 and one_line(text) and "missing" in text
    status, _, _ = await get(session, debug.url + "/debug/explain/ConfigMap/cfg")
    assert status == 404


DEBUG_PATHS = [
    "/debug/render",
    "/debug/render/swap",
    "/debug/exclusions",
    "/debug/features",
    "/debug/tombstones",
    "/debug/explain/ConfigMap/ns/cfg",
]


@pytest.mark.parametrize("path", DEBUG_PATHS)
async def test_debug_non_get_is_405(
    session: aiohttp.ClientSession, debug: Served, path: str
) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH", "HEAD"):
        status, _, text = await get(session, debug.url + path, method)
        assert status == 405, method
        if method != "HEAD":
            assert one_line(text)


@pytest.mark.parametrize("path", DEBUG_PATHS)
async def test_provider_exception_is_one_line_500(
    session: aiohttp.ClientSession, path: str
) -> None:
    async for s in started(debug_app(FakeProvider(fail=True))):
        status, ctype, text = await get(session, s.url + path)
        assert status == 500 and ctype.startswith("text/plain")
        assert one_line(text) and "template exploded" in text and "Traceback" not in text


async def test_unserialisable_result_is_500(session: aiohttp.ClientSession) -> None:
    class Odd(FakeProvider):
        def features(self) -> object:
            return {"x": object()}

    async for s in started(debug_app(Odd())):
        status, _, text = await get(session, s.url + "/debug/features")
        assert status == 500 and one_line(text) and "cannot serialise" in text


# -- bind addresses and serving -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":8080", ("0.0.0.0", 8080)),
        ("127.0.0.1:8081", ("127.0.0.1", 8081)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:9000", ("::1", 9000)),
        ("", None),
        ("  ", None),
    ],
)
def test_parse_bind_address(text: str, expected: tuple[str, int] | None) -> None:
    assert parse_bind_address(text) == expected


@pytest.mark.parametrize(
    "text", ["8080", "0", "host:", ":http", ":70000", "::1:80", "a b:80", ":-1"]
)
def test_parse_bind_address_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid bind address") as err:
        parse_bind_address(text)
    assert "\n" not in str(err.value)


def test_defaults_match_contract() -> None:
    assert parse_bind_address(DEFAULT_METRICS_BIND) == ("0.0.0.0", 8080)
    assert parse_bind_address(DEFAULT_HEALTH_BIND) == ("0.0.0.0", 8082)
    assert parse_bind_address(DEFAULT_DEBUG_BIND) == ("127.0.0.1", 8081)


async def test_close_releases_the_port(session: aiohttp.ClientSession) -> None:
    served = await serve(metrics_app(Metrics()), ("127.0.0.1", 0))
    port = served.port
    assert port > 0
    assert (await get(session, served.url + "/metrics"))[0] == 200
    await served.close()
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(session, served.url + "/metrics")
    again = await serve(metrics_app(Metrics()), ("127.0.0.1", port))
    await again.close()


async def test_port_in_use_is_one_line_error() -> None:
    served = await serve(metrics_app(Metrics()), "127.0.0.1:0")
    try:
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{served.port}") as err:
            await serve(metrics_app(Metrics()), ("127.0.0.1", served.port))
        assert "\n" not in str(err.value)
    finally:
        await served.close()


async def test_serve_refuses_disabled_address() -> None:
    with pytest.raises(ValueError, match="disables"):
        await serve(metrics_app(Metrics()), "")


def non_loopback_ipv4() -> str | None:
    """This machine's outbound IPv4 address (a UDP connect sends no packet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing lookup only
        except OSError:
            return None
        addr = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(addr).is_loopback or addr == "0.0.0.0" else addr


async def try_connect(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=5)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def test_debug_default_bind_is_loopback_only(provider: FakeProvider) -> None:
    host, _ = parse_bind_address(DEFAULT_DEBUG_BIND) or ("", 0)
    external = non_loopback_ipv4()
    if external is None:
        pytest.skip("this machine has no non-loopback IPv4 address to probe from")
    # The default host with an ephemeral port: 8081 may be taken on a test machine.
    served = await serve(debug_app(provider), (host, 0))
    try:
        assert await try_connect("127.0.0.1", served.port)
        assert not await try_connect(external, served.port), (
            f"debug server answered on {external}; it must listen on loopback only"
        )
    finally:
        await served.close()
    # Control: bound to every interface, the same probe does connect.
    everywhere = await serve(debug_app(provider), ("0.0.0.0", 0))
    try:
        assert await try_connect(external, everywhere.port)
    finally:
        await everywhere.close()


def test_run_flags_default_to_these_addresses() -> None:
    """`autopilot run` must serve the debug endpoints on loopback unless told otherwise."""
    import argparse

    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    args = parser.parse_args([])
    assert args.metrics_bind_address == DEFAULT_METRICS_BIND
    assert args.health_probe_bind_address == DEFAULT_HEALTH_BIND
    assert args.debug_bind_address == DEFAULT_DEBUG_BIND
