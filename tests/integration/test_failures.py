"""Contract §4 step 10: denials are reported per object, verbatim, and never block the rest.

The admission denial comes from a ValidatingWebhookConfiguration served by the test
and the RBAC denial from the controller's own (trimmed) ClusterRole, so these hold
against kubesim and a real kube-apiserver alike.
"""

from __future__ import annotations

from typing import Any

from tests.support import rbac
from tests.support.controller import Controller
from tests.support.platform import HCO_NS, HCO_PATH, Platform
from tests.support.wait import eventually_sync
from tests.support.webhook import DenyingWebhook, rule

SVC_NAME = "virt-platform-autopilot-metrics"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/{SVC_NAME}"
SM = f"/apis/monitoring.coreos.com/v1/namespaces/{HCO_NS}/servicemonitors/{SVC_NAME}"
COMPLIANCE = "virt_platform_compliance_status"


def _sm_compliance(c: Controller) -> float | None:
    return c.metric(COMPLIANCE, kind="ServiceMonitor", name=SVC_NAME, namespace=HCO_NS)


def _denied_then_recovered(c: Controller, platform: Platform, *, denial: str,
                           lift: Any) -> dict[str, Any]:
    """The ServiceMonitor fails alone, says why, and recovers once ``lift()`` ran."""
    eventually_sync(lambda: _sm_compliance(c) == 0, what="ServiceMonitor compliance 0")
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, what="others unaffected")
    failed = c.log_lines("failed to apply", kind="ServiceMonitor")
    assert failed and failed[0]["level"] == "error" and denial in failed[0]["error"], failed
    assert not c.log_lines("failed to apply", kind="Service")
    event = eventually_sync(lambda: platform.events(name=SVC_NAME, namespace=HCO_NS,
                                                    reason="ApplyFailed"),
                            what="ApplyFailed event")[0]
    assert denial in event.get("note", ""), event
    lift()
    eventually_sync(lambda: _sm_compliance(c) == 1, timeout=30,
                    what="recovered once the denial is lifted")
    assert platform.get(SM) is not None
    return dict(failed[0])


def test_admission_denial_on_one_kind(platform: Platform, controller: Any, cluster: Any,
                                      webhook: DenyingWebhook) -> None:
    denial = "servicemonitors are frozen by policy"
    webhook.deny("ServiceMonitor", denial)
    name = webhook.register(cluster, "freeze.autopilot.test",
                            rules=[rule("monitoring.coreos.com", "servicemonitors")])
    platform.ensure_namespace(HCO_NS)
    webhook.wait_in_force(cluster, "POST", SM.rsplit("/", 1)[0], {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": "probe"}, "spec": {"selector": {}, "endpoints": []}})
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    c = controller()
    line = _denied_then_recovered(c, platform, denial=denial,
                                  lift=lambda: webhook.unregister(cluster, name))
    assert 'admission webhook "freeze.autopilot.test" denied the request' in line["error"]
    assert any(s.kind == "ServiceMonitor" and s.name == SVC_NAME for s in webhook.seen)


def test_rbac_denial_is_logged_verbatim(platform: Platform, controller: Any,
                                        cluster: Any) -> None:
    rbac.grant(cluster, edit=lambda role: rbac.without(
        role, group="monitoring.coreos.com", resource="servicemonitors", verb="patch"))
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    c = controller()
    line = _denied_then_recovered(
        c, platform, denial=f'User "{cluster.sa_user}" cannot patch resource '
                            f'"servicemonitors"', lift=lambda: rbac.grant(cluster))
    assert "forbidden" in line["error"]


def test_failing_hco_asset_does_not_block_others(platform: Platform, controller: Any,
                                                 cluster: Any, webhook: DenyingWebhook
                                                 ) -> None:
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    webhook.deny("HyperConverged", "hco is locked")
    webhook.register(cluster, "lock.autopilot.test",
                     rules=[rule("hco.kubevirt.io", "hyperconvergeds")])
    webhook.wait_in_force(cluster, "PATCH", HCO_PATH,
                          {"metadata": {"labels": {"probe": "yes"}}},
                          content_type="application/merge-patch+json")
    c = controller()
    line = eventually_sync(lambda: c.log_lines("failed to apply", kind="HyperConverged"),
                           what="HCO asset failing")[0]
    assert "hco is locked" in line["error"]
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, what="other assets applied")
    # The ServiceMonitor is applied after the Service: wait for it rather than assume
    # it landed in the same instant (a busy machine shows the gap). Platform.wait_for is
    # tested to wait for a late object and to give up naming it
    # (tests/harness/test_wait_helpers.py).
    platform.wait_for(SM, what="ServiceMonitor applied after the Service")
