"""The benchmark's own API client: aiohttp with a distinct User-Agent.

The bench plays "another client" (the administrator, the competing operator),
so its requests must never be counted as the controller's: kubesim counts
requests by User-Agent, and the controller's is ``virt-platform-autopilot/...``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

USER_AGENT = "autopilot-bench/1.0"
TIMEOUT = aiohttp.ClientTimeout(total=30)


class BenchApiError(Exception):
    """A non-2xx answer."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {str(body)[:300]}")
        self.status = status
        self.body = body


class BenchClient:
    """A small async client bound to one API server and token."""

    def __init__(self, *, url: str, token: str, tls: ssl.SSLContext | None) -> None:
        self.url = url
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT,
                         "Accept": "application/json"}
        self._tls: ssl.SSLContext | bool = tls if tls is not None else False
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> BenchClient:
        connector = aiohttp.TCPConnector(ssl=self._tls, limit=64)
        self._session = aiohttp.ClientSession(connector=connector, headers=self._headers)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open session (inside ``async with``)."""
        assert self._session is not None, "use BenchClient inside 'async with'"
        return self._session

    async def request(self, method: str, path: str, *, body: Any = None,
                      query: Mapping[str, str] | None = None,
                      content_type: str = "application/json") -> Any:
        """One request; the decoded JSON answer, or :class:`BenchApiError`."""
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self.session.request(method, self.url + path, data=data, params=query,
                                        headers=headers, timeout=TIMEOUT) as resp:
            text = await resp.text()
            decoded = json.loads(text) if text else {}
            if resp.status >= 300:
                raise BenchApiError(resp.status, decoded)
            return decoded

    async def json_patch(self, path: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        """RFC 6902 patch."""
        out: dict[str, Any] = await self.request(
            "PATCH", path, body=ops, content_type="application/json-patch+json")
        return out

    async def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """RFC 7386 merge patch."""
        out: dict[str, Any] = await self.request(
            "PATCH", path, body=body, content_type="application/merge-patch+json")
        return out

    @asynccontextmanager
    async def watch(self, path: str, *, query: Mapping[str, str] | None = None
                    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """A watch stream of decoded events (``{"type", "object"}``)."""
        params = {"watch": "true", "allowWatchBookmarks": "true", **(query or {})}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        async with self.session.get(self.url + path, params=params, timeout=timeout) as resp:
            if resp.status != 200:
                raise BenchApiError(resp.status, await resp.text())

            async def events() -> AsyncIterator[dict[str, Any]]:
                # Raw chunks, split by hand: aiohttp's readline refuses long lines.
                buf = b""
                while True:
                    chunk = await resp.content.readany()
                    if not chunk:
                        return
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield json.loads(line)

            yield events()


async def gather_limited(coros: list[Any], *, limit: int) -> list[Any]:
    """Await coroutines with at most ``limit`` in flight."""
    sem = asyncio.Semaphore(limit)

    async def one(c: Any) -> Any:
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros))
