"""A debug-data provider double and HTTP helpers for the web-surface tests.

The provider records its calls and answers fixed data (or raises, with ``fail``),
so the tests exercise the real aiohttp apps over real sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from autopilot.web import Served, serve

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


async def started(app: web.Application) -> AsyncIterator[Served]:
    """``app`` served on a free loopback port until the iteration ends."""
    served = await serve(app, "127.0.0.1:0")
    try:
        yield served
    finally:
        await served.close()


async def get(
    session: aiohttp.ClientSession, url: str, method: str = "GET"
) -> tuple[int, str, str]:
    """Status, Content-Type and body of one request."""
    async with session.request(method, url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


def one_line(text: str) -> bool:
    """Whether ``text`` is a single non-empty line ending in a newline."""
    return text.endswith("\n") and "\n" not in text[:-1] and text.strip() != ""


# -- /metrics ------------------------------------------------------------------------
