"""A TCP forwarder between the controller and the API server that a test can cut.

``down()`` closes the listening socket and every open connection, so the
controller sees resets and then "connection refused" as if the API server had
gone away; ``up()`` listens again on the same port. ``blackhole()`` accepts
connections but forwards nothing (requests and watches hang). TLS passes
through untouched, so the kubeconfig keeps the server's CA.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

from tests.support.controller import free_port


class Proxy:
    """Forward 127.0.0.1:<port> to ``target`` (host, port), from a thread of its own."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.blackholed = False
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy",
                                        daemon=True)
        self._thread.start()

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        if self.blackholed:
            with contextlib.suppress(OSError):
                while await reader.read(65536):
                    pass  # swallow the request; never answer
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(up_writer)

    async def _up(self) -> None:
        if self._server is not None:
            # After a blackhole: new connections work again; the hung ones stay hung, like
            # a peer that vanished, until the client's own timeouts notice.
            return
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port,
                                                  reuse_address=True)

    async def _down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    def up(self) -> None:
        """Listen (again) on the same port; after :meth:`blackhole`, forward new connections."""
        self.blackholed = False
        self._call(self._up())

    def down(self) -> None:
        """Stop listening and cut every connection: the server looks gone."""
        self._call(self._down())

    def blackhole(self) -> None:
        """Cut every connection; new ones are accepted but never answered."""
        self.blackholed = True
        self._call(self._drop_all())

    async def _drop_all(self) -> None:
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    def close(self) -> None:
        """Stop for good."""
        self._call(self._down())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def kubeconfig(self, original: Path, path: Path, *, url: str) -> Path:
        """A copy of ``original`` pointing at the proxy instead of ``url``."""
        path.write_text(original.read_text().replace(url, f"https://127.0.0.1:{self.port}"))
        return path

    def __enter__(self) -> Proxy:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
