"""The HTTP surfaces: /metrics, health probes and the debug endpoints, over real sockets."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from ruamel.yaml import YAML

from autopilot.observability.metrics import Metrics
from autopilot.web import (
    Served,
    debug_app,
    health_app,
    metrics_app,
)
from tests.support.web_double import (
    FakeProvider,
    get,
    one_line,
    started,
)


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
