"""The HTTP surfaces' addresses: parsing, defaults, ports in use, loopback-only debug."""
from __future__ import annotations

import asyncio
import ipaddress
import socket

import aiohttp
import pytest

from autopilot.config import add_run_arguments
from autopilot.observability.metrics import Metrics
from autopilot.web import (
    DEFAULT_DEBUG_BIND,
    DEFAULT_HEALTH_BIND,
    DEFAULT_METRICS_BIND,
    debug_app,
    metrics_app,
    parse_bind_address,
    serve,
)
from tests.support.web_double import (
    FakeProvider,
    get,
)


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
