"""Another client that keeps changing an object: the other side of an edit war."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from tests.support.platform import Platform


class EditWar:
    """Flips ``spec.selector.app`` of the object at ``path`` every 50 ms until stopped."""

    def __init__(self, platform: Platform, path: str) -> None:
        self.platform = platform
        self.path = path
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            with contextlib.suppress(AssertionError):
                self.platform.patch(self.path, {"spec": {"selector": {"app": f"war-{i}"}}})
            self.stop.wait(0.05)

    def __enter__(self) -> EditWar:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
