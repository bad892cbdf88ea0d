"""Real API servers for a test session: one shared, and fresh ones started ahead of need.

Starting etcd + kube-apiserver takes seconds of mostly CPU; a test that needs a
pristine server would wait for all of it. :class:`ServerPool` starts the next fresh
server in the background while the current test runs, so the following
``fresh_server`` test usually finds one ready. Servers are never reused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

from tests.support import report
from tests.support.realserver import RealServer, Token, real_server

Started = tuple[AbstractContextManager[RealServer], RealServer]


def _start(assets: Path, tokens: tuple[Token, ...], compaction: bool) -> Started:
    manager = real_server(assets, tokens=tokens, compaction=compaction)
    return manager, manager.__enter__()


class ServerPool:
    """Hands out real servers: the session's shared one, and fresh ones."""

    def __init__(self, assets: Path, tokens: tuple[Token, ...]) -> None:
        self.assets = assets
        self.tokens = tokens
        self._shared: RealServer | None = None
        self._shared_stack = ExitStack()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="next-server")
        self._next: dict[bool, Future[Started]] = {}
        self._lock = threading.Lock()

    def shared(self) -> RealServer:
        """The running shared server (started again if it died)."""
        if self._shared is None or self._shared.problem():
            self._shared_stack.close()
            self._shared_stack = ExitStack()
            self._shared = self._shared_stack.enter_context(
                real_server(self.assets, tokens=self.tokens))
            report.server_started(shared=True)
        return self._shared

    def _ahead(self, compaction: bool) -> Future[Started]:
        with self._lock:
            future = self._next.pop(compaction, None)
            if future is None:
                future = self._executor.submit(_start, self.assets, self.tokens, compaction)
            # The next test of this kind will find its server starting already.
            self._next[compaction] = self._executor.submit(_start, self.assets, self.tokens,
                                                           compaction)
        return future

    @contextmanager
    def fresh(self, *, compaction: bool = False) -> Iterator[RealServer]:
        """A pristine server for one test, stopped afterwards."""
        manager, server = self._ahead(compaction).result()
        report.server_started(shared=False)
        try:
            if server.problem():  # died while waiting: start one now
                manager.__exit__(None, None, None)
                manager, server = _start(self.assets, self.tokens, compaction)
            yield server
        finally:
            manager.__exit__(None, None, None)

    def close(self) -> None:
        """Stop every server, including those started ahead."""
        with self._lock:
            pending = list(self._next.values())
            self._next.clear()
        for future in pending:
            try:
                manager, _ = future.result()
            except Exception:  # a server that failed to start has nothing to stop
                continue
            manager.__exit__(None, None, None)
        self._executor.shutdown(wait=True)
        self._shared_stack.close()
