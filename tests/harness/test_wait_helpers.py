"""The helpers tests assert through are themselves tested: they can fail, and say why.

``Platform.wait_for`` is how a test checks an object the controller applies a moment
after another (the ServiceMonitor after the Service, in
``tests/integration/test_failures.py``): it must wait for an object that is not
there yet, where a plain ``assert platform.get(...)`` fails, and give up at its
deadline with a message naming what it waited for. ``assert_rerun_writes_nothing``
is how the node-script tests prove a second run idempotent: it must catch a run
that rewrites a file with the same content.
"""

from __future__ import annotations

import socket
import time
import types
from pathlib import Path
from typing import Any

import pytest

from tests.support import rbac
from tests.support.controller import Controller
from tests.support.node_scripts import assert_rerun_writes_nothing, write
from tests.support.platform import Platform

PATH = "/apis/monitoring.coreos.com/v1/namespaces/ns/servicemonitors/late"


class LateCluster:
    """A cluster whose one object is found from the ``appears_on``-th GET on (0: never)."""

    def __init__(self, *, appears_on: int) -> None:
        self.appears_on = appears_on
        self.gets = 0

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        assert (method, path) == ("GET", PATH)
        self.gets += 1
        if self.appears_on and self.gets >= self.appears_on:
            return 200, {"kind": "ServiceMonitor", "metadata": {"name": "late"}}
        return 404, {"kind": "Status", "reason": "NotFound"}


def test_wait_for_finds_an_object_a_plain_assert_misses() -> None:
    cluster = LateCluster(appears_on=4)
    platform = Platform(cluster)
    assert platform.get(PATH) is None  # asserting at once would have failed here
    found = platform.wait_for(PATH, what="ServiceMonitor applied", timeout=5)
    assert found["metadata"]["name"] == "late"
    assert cluster.gets >= 4


def test_wait_for_gives_up_at_its_deadline_naming_what_it_waited_for() -> None:
    platform = Platform(LateCluster(appears_on=0))
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"^timed out after 0\.3s waiting for "
                       r"ServiceMonitor applied \(last value: None\)$"):
        platform.wait_for(PATH, what="ServiceMonitor applied", timeout=0.3)
    assert time.monotonic() - started < 5


def test_rerun_check_catches_a_rewrite_with_the_same_content(tmp_path: Path) -> None:
    write(tmp_path, "/sys/kernel/mm/ksm/run", "1\n")

    def rewrite(*, root: str, dry_run: bool) -> int:
        (Path(root) / "sys/kernel/mm/ksm/run").write_text("1\n")
        return 0

    with pytest.raises(AssertionError, match=r"rewrote \['sys/kernel/mm/ksm/run'\]"):
        assert_rerun_writes_nothing(types.SimpleNamespace(run=rewrite), tmp_path)


def test_rerun_check_catches_a_run_that_still_had_work(tmp_path: Path) -> None:
    write(tmp_path, "/sys/kernel/mm/ksm/run", "0\n")

    def changes(*, root: str, dry_run: bool) -> int:
        return 1

    with pytest.raises(AssertionError, match="the second run changed"):
        assert_rerun_writes_nothing(types.SimpleNamespace(run=changes), tmp_path)


def test_rerun_check_passes_a_run_that_only_reads(tmp_path: Path) -> None:
    write(tmp_path, "/sys/kernel/mm/ksm/run", "1\n")

    def reads(*, root: str, dry_run: bool) -> int:
        assert (Path(root) / "sys/kernel/mm/ksm/run").read_text() == "1\n"
        return 0

    assert_rerun_writes_nothing(types.SimpleNamespace(run=reads), tmp_path)


def test_a_controller_that_lost_its_port_starts_again_on_fresh_ones(cluster: Any) -> None:
    """Parallel workers: a port free_port() chose can be bound by another process first.

    The helper must see the controller's exit for that reason and start it again on
    fresh ports, with the log of the failed start dropped.
    """
    rbac.grant(cluster)
    c = Controller(kubeconfig=rbac.service_account_kubeconfig(cluster))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", c.health_port))
        taken.listen()
        lost = c.health_port
        try:
            c.start()
            c.wait_ready(timeout=60)
            assert c.health_port != lost
            assert "address already in use" not in c.log_text()
        finally:
            c.stop()
