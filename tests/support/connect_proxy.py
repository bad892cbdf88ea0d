"""A forward HTTP proxy on loopback that counts what passes through it.

It tunnels ``CONNECT host:port`` (what a client does for an ``https`` server) and
forwards absolute-form requests (``GET http://host/path``, for an ``http`` server).
Runs in a thread of its own with its own event loop, so that synchronous tests and
subprocesses can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class ProxyStats:
    """What went through the proxy: one entry per client connection."""

    targets: list[str] = field(default_factory=list)
    connects: int = 0
    forwarded: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _handle(stats: ProxyStats, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    method, target, _version = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        upstream_r, upstream_w = await asyncio.open_connection(host.strip("[]"), int(port))
        with stats.lock:
            stats.connects += 1
            stats.targets.append(target)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
    else:
        url = urlsplit(target)
        port = url.port or 80
        upstream_r, upstream_w = await asyncio.open_connection(url.hostname, port)
        with stats.lock:
            stats.forwarded += 1
            stats.targets.append(f"{url.hostname}:{port}")
        path = url.path + (f"?{url.query}" if url.query else "")
        rest = head.split(b"\r\n", 1)[1]
        upstream_w.write(f"{method} {path or '/'} {_version}\r\n".encode() + rest)
    await asyncio.gather(_pipe(reader, upstream_w), _pipe(upstream_r, writer))


@contextlib.contextmanager
def connect_proxy() -> Iterator[tuple[str, ProxyStats]]:
    """``(proxy URL, stats)`` of a proxy running until the block ends."""
    stats = ProxyStats()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    address: list[tuple[str, int]] = []
    stopped = asyncio.Event()

    async def serve() -> None:
        server = await asyncio.start_server(
            lambda r, w: _handle(stats, r, w), "127.0.0.1", 0)
        address.append(server.sockets[0].getsockname()[:2])
        ready.set()
        async with server:
            await stopped.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the test proxy did not start")
    host, port = address[0]
    try:
        yield f"http://{host}:{port}", stats
    finally:
        loop.call_soon_threadsafe(stopped.set)
        thread.join(10)
