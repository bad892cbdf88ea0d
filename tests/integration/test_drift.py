"""Contract §4/§5: drift is corrected, force-reconcile re-checks, a steady cluster costs nothing."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from tests.support.platform import HCO_NS, Platform
from tests.support.wait import eventually_sync

SVC_NAME = "virt-platform-autopilot-metrics"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/{SVC_NAME}"
ON = {"platform.kubevirt.io/autopilot": "true"}
COMPLIANCE = "virt_platform_compliance_status"
UA = "virt-platform-autopilot"  # the controller's User-Agent product
WRITES = ("create", "update", "patch", "delete", "deletecollection")


def dry_runs(cluster: Any, before: Counter[tuple[str, str, bool]], resource: str) -> int:
    """Server-side dry-run patches of ``resource`` served since the reading ``before``."""
    served = cluster.request_counts(user_agent=UA) - before
    return served[("patch", resource, True)]


def selector(obj: dict[str, Any] | None) -> dict[str, str]:
    return dict(((obj or {}).get("spec") or {}).get("selector") or {})


def converge(platform: Platform, controller: Any, *extra: str) -> Any:
    platform.create_hco(ON)
    c = controller(*extra)
    platform.wait_for(SVC, lambda o: selector(o).get("app") == "virt-platform-autopilot")
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, what="Service compliant")
    return c


def test_external_edit_is_reverted(platform: Platform, controller: Any, cluster: Any) -> None:
    c = converge(platform, controller)
    platform.patch(SVC, {"spec": {"selector": {"app": "someone-else"}}})
    platform.wait_for(SVC, lambda o: selector(o).get("app") == "virt-platform-autopilot",
                      what="selector restored")
    eventually_sync(lambda: platform.events(name=SVC_NAME, namespace=HCO_NS,
                                            reason="DriftCorrected"), what="DriftCorrected event")
    assert platform.events(name=SVC_NAME, namespace=HCO_NS, reason="DriftDetected")
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, what="compliance back to 1")
    assert c.log_lines("successfully applied", kind="Service", name=SVC_NAME)
    # The runbook's command finds them too (core v1 view of events.k8s.io events).
    out = cluster.kubectl("get", "events", "-n", HCO_NS, "--field-selector",
                          f"involvedObject.name={SVC_NAME}").stdout
    assert "DriftCorrected" in out


def test_other_field_manager_loses_the_field(platform: Platform, controller: Any,
                                             cluster: Any) -> None:
    converge(platform, controller)
    body = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": SVC_NAME, "namespace": HCO_NS},
            "spec": {"selector": {"app": "intruder"}}}
    status, out = cluster.api("PATCH", SVC, body=body, content_type="application/apply-patch+yaml",
                              query={"fieldManager": "intruder", "force": "true"})
    assert status == 200, out
    platform.wait_for(SVC, lambda o: selector(o).get("app") == "virt-platform-autopilot",
                      what="field taken back")
    live = platform.get(SVC)
    owners = [m["manager"] for m in live["metadata"]["managedFields"]
              if "f:app" in json.dumps(m.get("fieldsV1", {}))]
    assert "virt-platform-autopilot" in owners


def test_force_reconcile_on_object_does_a_real_check(platform: Platform, controller: Any,
                                                     cluster: Any) -> None:
    c = converge(platform, controller)
    before = cluster.request_counts(user_agent=UA)
    stamp = str(time.time())
    platform.patch(SVC, {"metadata": {"annotations": {
        "platform.kubevirt.io/force-reconcile": stamp}}})
    eventually_sync(lambda: c.log_lines("force-reconcile requested", name=SVC_NAME),
                    timeout=5, what="force-reconcile log line")
    eventually_sync(lambda: dry_runs(cluster, before, "services") >= 1,
                    timeout=5, what="a server-side dry run of the Service")


def test_force_reconcile_on_hco_checks_every_asset(platform: Platform, controller: Any,
                                                   cluster: Any) -> None:
    c = converge(platform, controller)
    eventually_sync(lambda: len(c.log_lines("successfully applied")) >= 3, what="applies")
    before = cluster.request_counts(user_agent=UA)
    platform.annotate_hco({"platform.kubevirt.io/force-reconcile": "now"})
    eventually_sync(lambda: c.log_lines("force-reconcile requested on the HyperConverged"),
                    what="HCO force-reconcile logged")
    eventually_sync(lambda: dry_runs(cluster, before, "services") >= 1
                    and dry_runs(cluster, before, "servicemonitors") >= 1,
                    what="every asset re-checked server-side")


@pytest.mark.timeout(90)
def test_steady_state_makes_no_writes(platform: Platform, controller: Any, cluster: Any) -> None:
    platform.create_hco(ON)
    c = controller("--resync-period", "2s")
    platform.wait_for(SVC)
    eventually_sync(lambda: c.log_lines("resync"), what="a first resync")
    # Converged: after one quiet resync pass, three more must not write or dry-run.
    first = len(c.log_lines("resync"))
    eventually_sync(lambda: len(c.log_lines("resync")) >= first + 1, timeout=15, what="resync")
    before = cluster.request_counts(user_agent=UA)
    start = len(c.log_lines("resync"))
    eventually_sync(lambda: len(c.log_lines("resync")) >= start + 3, timeout=30,
                    what="three resync passes")
    served = cluster.request_counts(user_agent=UA) - before
    writes = sum(n for (verb, _, dry), n in served.items() if verb in WRITES and not dry)
    dry = sum(n for (_, _, is_dry), n in served.items() if is_dry)
    assert (writes, dry) == (0, 0), served


def test_drift_is_undone_by_one_apply_and_its_echo_costs_nothing(platform: Platform,
                                                                 controller: Any,
                                                                 cluster: Any) -> None:
    c = converge(platform, controller)
    # Once the first passes are over: an asset pass still due would cover the edit (and
    # check it server-side), which is right, but not what this test looks at.
    seen = [-1, time.monotonic()]

    def quiet() -> bool:
        n = len(c.logs())
        if n != seen[0]:
            seen[:] = [n, time.monotonic()]
        return time.monotonic() - seen[1] >= 1.0

    eventually_sync(quiet, timeout=30, what="the controller's first passes over")
    applied = len(c.log_lines("successfully applied", kind="Service", name=SVC_NAME))
    start = len(c.logs())
    before = cluster.request_counts(user_agent=UA)
    platform.patch(SVC, {"spec": {"selector": {"app": "someone-else"}}})
    platform.wait_for(SVC, lambda o: selector(o).get("app") == "virt-platform-autopilot",
                      what="selector restored")

    def echo_seen() -> bool:
        # The pass over the apply's own watch event: in sync, after the restoring apply.
        lines = [x for x in c.logs()[start:] if x.get("name") == SVC_NAME
                 and x.get("event") in ("successfully applied", "object pass done")]
        applies = [i for i, x in enumerate(lines) if x["event"] == "successfully applied"]
        return bool(applies) and any(
            x["event"] == "object pass done" and x.get("outcome") == "in-sync"
            for x in lines[applies[-1] + 1:])

    eventually_sync(echo_seen, what="the pass over the restore's own watch event")
    assert len(c.log_lines("successfully applied", kind="Service", name=SVC_NAME)) == applied + 1
    served = cluster.request_counts(user_agent=UA) - before
    on_services = {key: n for key, n in served.items() if key[1] == "services"}
    # One apply, judged without a dry run and without reading the object; the echo: nothing.
    assert on_services == {("patch", "services", False): 1}, served
    assert c.log_lines("object pass done", name=SVC_NAME, outcome="applied")
