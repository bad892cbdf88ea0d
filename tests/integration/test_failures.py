"""Contract §4 step 10: denials are reported per object, verbatim, and never block the rest."""

from __future__ import annotations

from typing import Any

from tests.support.platform import HCO_NS, Platform
from tests.support.wait import eventually_sync

SVC_NAME = "virt-platform-autopilot-metrics"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/{SVC_NAME}"
SM = f"/apis/monitoring.coreos.com/v1/namespaces/{HCO_NS}/servicemonitors/{SVC_NAME}"
COMPLIANCE = "virt_platform_compliance_status"


def test_admission_denial_on_one_kind(platform: Platform, controller: Any, cluster: Any) -> None:
    sim = cluster.require_sim()
    denial = "servicemonitors are frozen by policy"
    sim.controls.deny_admission(kind="ServiceMonitor", message=denial)
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    c = controller()
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="ServiceMonitor", name=SVC_NAME,
                                     namespace=HCO_NS) == 0, what="ServiceMonitor compliance 0")
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, what="others unaffected")
    failed = c.log_lines("failed to apply", kind="ServiceMonitor")
    assert failed and failed[0]["level"] == "error" and denial in failed[0]["error"]
    assert "admission webhook" in failed[0]["error"]
    eventually_sync(lambda: platform.events(name=SVC_NAME, namespace=HCO_NS,
                                            reason="ApplyFailed"), what="ApplyFailed event")
    sim.controls.clear_admission()
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="ServiceMonitor", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, timeout=30,
                    what="recovered once the denial is lifted")


def test_rbac_denial_is_logged_verbatim(platform: Platform, controller: Any, cluster: Any) -> None:
    sim = cluster.require_sim()
    sim.controls.deny_rbac(user=cluster.controller_user, verb="patch", resource="servicemonitors")
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    c = controller()
    eventually_sync(lambda: c.log_lines("failed to apply", kind="ServiceMonitor"),
                    what="failed to apply ServiceMonitor")
    line = c.log_lines("failed to apply", kind="ServiceMonitor")[0]
    assert "forbidden" in line["error"]
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, what="others unaffected")
    sim.controls.clear_rbac()
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="ServiceMonitor", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, timeout=30, what="recovered")


def test_failing_hco_asset_does_not_block_others(platform: Platform, controller: Any,
                                                 cluster: Any) -> None:
    sim = cluster.require_sim()
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    sim.controls.deny_admission(kind="HyperConverged", message="hco is locked")
    c = controller()
    eventually_sync(lambda: c.log_lines("failed to apply", kind="HyperConverged"),
                    what="HCO asset failing")
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, what="other assets applied")
    assert platform.get(SM) is not None
