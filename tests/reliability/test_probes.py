"""Probes that mean something: an unreachable API server makes the pod not ready, never
dead; liveness fails only when the process itself is stuck.

The outage test stops the API server (every connection cut, new ones refused, through
a proxy) for 60 s with the default 30 s threshold, asking both probes every second.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.reliability.conftest import StartController
from tests.reliability.test_failure_modes import COMPLIANCE, SVC_NAME, _through_proxy
from tests.support.platform import HCO_NS, Platform
from tests.support.proxy import Proxy
from tests.support.wait import eventually_sync

ON = {"platform.kubevirt.io/autopilot": "true"}
OUTAGE_S = 60.0


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sixty_seconds_without_the_api_server(platform: Platform, controller: StartController,
                                              cluster: Any) -> None:
    url = urlparse(cluster.url)
    platform.create_hco(ON)
    with Proxy((url.hostname or "127.0.0.1", url.port or 443)) as proxy:
        c = _through_proxy(cluster, controller, proxy)  # the default 30 s threshold
        eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME,
                                         namespace=HCO_NS) == 1, what="Service applied")
        assert c.http(c.health_port, "/readyz")[0] == 200
        pid = c.proc.pid if c.proc is not None else None
        proxy.down()
        started = time.monotonic()
        live: list[int] = []
        ready: list[tuple[float, int, str]] = []
        while (elapsed := time.monotonic() - started) < OUTAGE_S:
            live.append(c.http(c.health_port, "/healthz")[0])
            status, reason = c.http(c.health_port, "/readyz")
            ready.append((elapsed, status, reason))
            time.sleep(1.0)  # the probes' own pace: one question a second
        assert live and set(live) == {200}, f"/healthz answered {sorted(set(live))}"
        failing = [(t, r) for t, s, r in ready if s != 200]
        assert failing, "/readyz never failed during a 60 s outage"
        assert all("API server unreachable" in r for _, r in failing), failing[:3]
        # Not before the 30 s threshold (minus the probe's own sampling slack).
        assert failing[0][0] >= 25.0, failing[0]
        proxy.up()
        eventually_sync(lambda: c.http(c.health_port, "/readyz")[0] == 200, timeout=60,
                        what="ready again after the server returned")
        assert c.proc is not None and c.proc.poll() is None and c.proc.pid == pid
        assert c.http(c.health_port, "/healthz")[0] == 200
        assert c.stop() == 0
