"""Two replicas with leader election: the runbooks' greps answer the same on each.

``oc exec deploy/virt-platform-autopilot -- curl -s localhost:8080/metrics`` and the
metrics Service may reach the standby. The standby's ``/metrics`` shows the leader's
per-object series (read at the address the leader publishes on its Lease); Prometheus
scrapes ``/metrics/replica``, where only the leader has them, so each object is
exported once. An object failing admission gives a ``} 0`` line, an edit war a
``thrashing_total`` line.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability.conftest import StartController
from tests.support.chaos import PAUSED
from tests.support.controller import Controller, leader_and_standby
from tests.support.editwar import EditWar
from tests.support.platform import HCO_NS, Platform, annotations_of
from tests.support.wait import eventually_sync
from tests.support.webhook import DenyingWebhook, rule

ON = {"platform.kubevirt.io/autopilot": "true"}
SVC_NAME = "virt-platform-autopilot-metrics"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/{SVC_NAME}"
SM = f"/apis/monitoring.coreos.com/v1/namespaces/{HCO_NS}/servicemonitors/{SVC_NAME}"
COMPLIANCE = "virt_platform_compliance_status"
THRASHING = "virt_platform_thrashing_total"


def runbook_greps(c: Controller, path: str = "/metrics") -> dict[str, list[str]]:
    """What the runbooks' three greps print against this replica."""
    status, text = c.http(c.metrics_port, path)
    assert status == 200, (path, status)
    lines = text.splitlines()
    compliance = [line for line in lines if COMPLIANCE in line]
    return {
        "grep virt_platform_compliance_status": compliance,
        "grep virt_platform_compliance_status | grep '} 0$'":
            [line for line in compliance if line.endswith("} 0")],
        "grep virt_platform_thrashing_total": [line for line in lines if THRASHING in line],
    }


def samples(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith("#")]


@pytest.mark.timeout(180)
def test_the_runbook_greps_print_the_same_lines_on_both_replicas(
    platform: Platform, controller: StartController, cluster: Any, webhook: DenyingWebhook
) -> None:
    denial = "servicemonitors are frozen by policy"
    webhook.deny("ServiceMonitor", denial)
    webhook.register(cluster, "freeze.autopilot.test",
                     rules=[rule("monitoring.coreos.com", "servicemonitors")])
    platform.ensure_namespace(HCO_NS)
    webhook.wait_in_force(cluster, "POST", SM.rsplit("/", 1)[0], {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": "probe"}, "spec": {"selector": {}, "endpoints": []}})
    platform.create_hco(ON)
    a = controller("--leader-elect")
    b = controller("--leader-elect")
    leader, standby = leader_and_standby(a, b)
    eventually_sync(lambda: leader.metric(COMPLIANCE, kind="ServiceMonitor", name=SVC_NAME,
                                          namespace=HCO_NS) == 0, what="ServiceMonitor 0")
    platform.wait_for(SVC, what="metrics Service")
    with EditWar(platform, SVC):
        platform.wait_for(SVC, lambda o: annotations_of(o).get(PAUSED) == "true",
                          timeout=60, what="the edit war paused the Service")

    def same() -> dict[str, list[str]] | None:
        seen = runbook_greps(leader)
        return seen if runbook_greps(standby) == seen else None

    answer = eventually_sync(same, timeout=30, what="the same greps on both replicas")
    zero = samples(answer["grep virt_platform_compliance_status | grep '} 0$'"])
    assert zero and all('kind="ServiceMonitor"' in line for line in zero), zero
    assert len(samples(answer["grep virt_platform_compliance_status"])) > len(zero)
    thrashing = samples(answer["grep virt_platform_thrashing_total"])
    assert thrashing and any('kind="Service"' in line and line.endswith(" 1")
                             for line in thrashing), thrashing

    # What Prometheus scrapes: each replica's own series, so every object once.
    assert samples(runbook_greps(leader, "/metrics/replica")
                   ["grep virt_platform_compliance_status"]) \
        == samples(answer["grep virt_platform_compliance_status"])
    standby_own = runbook_greps(standby, "/metrics/replica")
    assert samples(standby_own["grep virt_platform_compliance_status"]) == []
    assert samples(standby_own["grep virt_platform_thrashing_total"]) == []
