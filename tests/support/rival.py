"""Another writer that keeps reverting a field on a schedule: the other side of an edit war.

Unlike :class:`tests.support.editwar.EditWar` (a storm at 20 edits a second), a
``Rival`` writes at a chosen period, the way another operator's resync, a GitOps
tool or a cron job does, and through a chosen channel: a merge patch under a
field manager name, a forced server-side apply by another manager, or the
installed ``kubectl patch``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

MERGE = "merge"
APPLY = "apply"
KUBECTL = "kubectl"


class Rival:
    """Writes ``body(n)`` to ``path`` every ``every`` seconds (fixed schedule) until stopped."""

    def __init__(
        self,
        cluster: Any,
        path: str,
        body: Callable[[int], dict[str, Any]],
        *,
        every: float,
        how: str = MERGE,
        manager: str = "rival-operator",
        kubectl_target: tuple[str, ...] = (),
        edits: int | None = None,
    ) -> None:
        self.cluster = cluster
        self.path = path
        self.body = body
        self.every = every
        self.how = how
        self.manager = manager
        self.kubectl_target = kubectl_target  # e.g. ("service", NAME, "-n", NS)
        self.limit = edits
        self.sent: list[float] = []  # monotonic times of the writes that succeeded
        self.failed: list[str] = []
        self.started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def write(self, n: int) -> None:
        """One write through the chosen channel (raises AssertionError when refused)."""
        body = self.body(n)
        if self.how == KUBECTL:
            self.cluster.kubectl("patch", *self.kubectl_target, "--type", "merge",
                                 "-p", json.dumps(body))
            return
        if self.how == APPLY:
            query = {"fieldManager": self.manager, "force": "true"}
            ctype = "application/apply-patch+yaml"
        else:
            query, ctype = {"fieldManager": self.manager}, "application/merge-patch+json"
        status, obj = self.cluster.api("PATCH", self.path, body=body, query=query,
                                       content_type=ctype)
        if status not in (200, 201):
            raise AssertionError(f"{self.how} by {self.manager}: {status} {obj}")

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set() and (self.limit is None or n < self.limit):
            due = self.started + n * self.every
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            n += 1
            try:
                self.write(n)
                self.sent.append(time.monotonic())
            except AssertionError as exc:
                with contextlib.suppress(Exception):
                    self.failed.append(str(exc)[:300])

    def start(self) -> Rival:
        """Start writing now (the first write goes out at once)."""
        self.started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and wait for an in-flight write."""
        self._stop.set()
        self._thread.join(timeout=60)

    def __enter__(self) -> Rival:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
