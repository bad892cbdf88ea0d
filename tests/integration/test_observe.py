"""``autopilot run --observe``: drift is detected and reported, never corrected; nothing written.

The cluster is converged by a normal controller, which is then stopped; the cluster is
tampered with (an edited Service, a deleted ServiceMonitor) and an observer starts. It
must report both as drifted (compliance 0, ``would apply`` with the diff), keep the
untouched objects compliant, and write nothing at all: the API server's audit log (or
kubesim's counters) shows only reads and dry runs from it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.support.platform import HCO_NS, Platform
from tests.support.wait import eventually_sync

ON = {"platform.kubevirt.io/autopilot": "true"}
UA = "virt-platform-autopilot"
WRITES = ("create", "update", "patch", "delete", "deletecollection")
COMPLIANCE = "virt_platform_compliance_status"
SVC_NAME = "virt-platform-autopilot-metrics"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/{SVC_NAME}"
SM = f"/apis/monitoring.coreos.com/v1/namespaces/{HCO_NS}/servicemonitors/{SVC_NAME}"
RULE_NAME = "virt-platform-autopilot-alerts"


def writes(counts: Counter[tuple[str, str, bool]]) -> dict[tuple[str, str, bool], int]:
    return {k: n for k, n in counts.items() if k[0] in WRITES and not k[2] and n}


def test_observe_reports_drift_and_writes_nothing(platform: Platform, controller: Any,
                                                  cluster: Any) -> None:
    platform.create_hco(ON)
    writer = controller()
    for kind, name in (("Service", SVC_NAME), ("ServiceMonitor", SVC_NAME),
                       ("PrometheusRule", RULE_NAME)):
        eventually_sync(lambda k=kind, n=name: writer.metric(  # type: ignore[misc]
            COMPLIANCE, kind=k, name=n, namespace=HCO_NS) == 1, timeout=60,
            what=f"{kind} compliant")
    writer.stop()
    platform.patch(SVC, {"spec": {"selector": {"app": "someone-else"}}})
    assert cluster.api("DELETE", SM)[0] == 200

    before = cluster.request_counts(user_agent=UA)
    observer = controller("--observe", "--leader-elect")
    for name, kind in ((SVC_NAME, "Service"), (SVC_NAME, "ServiceMonitor")):
        eventually_sync(lambda k=kind, n=name: observer.metric(  # type: ignore[misc]
            COMPLIANCE, kind=k, name=n, namespace=HCO_NS) == 0, timeout=60,
            what=f"{kind} reported drifted")
    eventually_sync(lambda: observer.metric(COMPLIANCE, kind="PrometheusRule", name=RULE_NAME,
                                            namespace=HCO_NS) == 1, timeout=60,
                    what="untouched rule in sync")
    [edited] = eventually_sync(lambda: observer.log_lines("would apply", kind="Service"),
                               timeout=60, what="'would apply' for the Service")
    assert edited["created"] is False
    assert "-    app: someone-else" in edited["diff"], edited["diff"]
    assert "+    app: virt-platform-autopilot" in edited["diff"], edited["diff"]
    assert "managedFields" not in edited["diff"]
    [missing] = observer.log_lines("would apply", kind="ServiceMonitor")
    assert missing["created"] is True and missing["diff"].startswith("--- live/"), missing

    # Never corrected: the edit stays, the deleted object stays deleted.
    assert platform.get(SVC)["spec"]["selector"]["app"] == "someone-else"  # type: ignore[index]
    assert platform.get(SM) is None
    served = cluster.request_counts(user_agent=UA) - before
    assert writes(served) == {}, served  # no object, event, annotation or Lease
    assert served[("patch", "services", True)] >= 1  # the dry run that saw the drift
    assert not observer.log_lines("successfully applied")
