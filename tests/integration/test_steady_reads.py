"""A steady cluster costs no request: the sweep and the template lookups answer from watches.

A converged controller's resync passes re-render every asset (the lookups of
``crd_enum``, ``recording_rule_exists``, ``configmap_value`` included) and sweep
every tombstone; counted by the server (kubesim's own count, the real server's
audit log), they make no request at all. A change of what a lookup read
re-renders its asset at once, with no resync to wait for.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.support.feature_objects import shared_crd_present
from tests.support.platform import Platform
from tests.support.wait import eventually_sync

UA = "virt-platform-autopilot"  # the controller's User-Agent product
ON = {"platform.kubevirt.io/autopilot": "true",
      "platform.kubevirt.io/enable-ksm-zero-only": "true"}
DESCHEDULER_NS = "openshift-kube-descheduler-operator"
DESCHEDULER = (f"/apis/operator.openshift.io/v1/namespaces/{DESCHEDULER_NS}"
               "/kubedeschedulers/cluster")
MONITORING_CONFIG = "/api/v1/namespaces/openshift-monitoring/configmaps/cluster-monitoring-config"
NHC = "/apis/remediation.medik8s.io/v1alpha1/nodehealthchecks"
RULES = "/apis/monitoring.coreos.com/v1/namespaces/openshift-monitoring/prometheusrules"
RECORD = "descheduler:combined_utilization_and_pressure:avg1m"


def start(platform: Platform, cluster: Any, controller: Any, resync: str) -> Any:
    """The base platform plus a tombstoned object of someone else's, then the controller."""
    platform.install("NodeHealthCheck")
    for ns in (DESCHEDULER_NS, "openshift-monitoring"):
        platform.ensure_namespace(ns)
    # Not ours (no label): the sweep must know it exists, and skip it, every pass.
    status, body = cluster.api("POST", NHC, body={
        "apiVersion": "remediation.medik8s.io/v1alpha1", "kind": "NodeHealthCheck",
        "metadata": {"name": "virt-node-health-check"},
        "spec": {"selector": {}, "remediationTemplate": {
            "apiVersion": "v1", "kind": "X", "name": "x", "namespace": "default"}}})
    assert status == 201, body
    platform.create_hco(ON)
    c = controller("--resync-period", resync)
    platform.wait_for(DESCHEDULER, timeout=60, what="KubeDescheduler applied")
    platform.wait_for(MONITORING_CONFIG, timeout=60, what="monitoring config applied")
    eventually_sync(lambda: c.metric("virt_platform_tombstone_status", kind="NodeHealthCheck",
                                     name="virt-node-health-check") == -2,
                    timeout=30, what="tombstone skipped")
    return c


@pytest.mark.timeout(150)
def test_a_resync_pass_makes_no_request(platform: Platform, controller: Any,
                                        cluster: Any) -> None:
    c = start(platform, cluster, controller, "2s")
    # Converged: two resync passes after everything was applied, then count three.
    resyncs = len(c.log_lines("resync"))
    eventually_sync(lambda: len(c.log_lines("resync")) >= resyncs + 2, timeout=30,
                    what="two resync passes")
    before = cluster.request_counts(user_agent=UA)
    start_at = len(c.log_lines("resync"))
    eventually_sync(lambda: len(c.log_lines("resync")) >= start_at + 3, timeout=30,
                    what="three resync passes")
    served = cluster.request_counts(user_agent=UA) - before
    assert served == Counter(), served
    # The passes did look things up and sweep, each answered by a watch the controller
    # runs anyway: none started for them.
    watched = {line["informer"] for line in c.log_lines("watching for template lookups")}
    # The KubeDescheduler CRD (crd_enum) is kept whole by the CRDs' watch: no watch of
    # its own.
    assert not any("CustomResourceDefinition" in w for w in watched), watched
    # The monitoring config is read from the managed ConfigMap's own watch (the kind is
    # watched object by object, by name).
    assert not any("ConfigMap" in w for w in watched), watched
    # The recording rules are read from the managed PrometheusRules' watch (the kind is
    # watched whole, what the listing reads kept): no watch of its own.
    assert not any(w.endswith("/PrometheusRule") for w in watched), watched
    lent = {(line["lookup"], line["informer"])
            for line in c.log_lines("template lookup answered by a running watch")}
    assert ("lookup/monitoring.coreos.com/v1/PrometheusRule",
            "managed/monitoring.coreos.com/v1/PrometheusRule") in lent, lent
    assert ("lookup/apiextensions.k8s.io/v1/CustomResourceDefinition//"
            "kubedeschedulers.operator.openshift.io", "crds") in lent, lent
    assert ("lookup/v1/ConfigMap/openshift-monitoring/cluster-monitoring-config",
            "managed/v1/ConfigMap/openshift-monitoring/cluster-monitoring-config") in lent, lent
    # NodeHealthCheck is watched whole (few per cluster): that watch covers the tombstone.
    swept = {line["informer"] for line in c.log_lines("watching")}
    assert "managed/remediation.medik8s.io/v1alpha1/NodeHealthCheck" in swept, swept
    assert not any(w.startswith("tombstone") and "NodeHealthCheck" in w for w in swept), swept
    assert c.metric("virt_platform_tombstone_status", kind="NodeHealthCheck",
                    name="virt-node-health-check") == -2


@pytest.mark.timeout(150)
def test_a_new_recording_rule_re_renders_the_descheduler(platform: Platform, controller: Any,
                                                         cluster: Any) -> None:
    if not shared_crd_present("KubeDescheduler"):
        pytest.skip("../shared is absent: the stand-in KubeDescheduler CRD offers no "
                    "RelieveAndMigrate profile, whose utilisation follows the rules")
    # A resync far away: only the PrometheusRule watch can bring the change.
    c = start(platform, cluster, controller, "600s")
    live = platform.get(DESCHEDULER) or {}
    assert "devActualUtilizationProfile" not in (live["spec"].get("profileCustomizations")
                                                 or {}), live["spec"]
    status, body = cluster.api("POST", RULES, body={
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
        "metadata": {"name": "descheduler-rules", "namespace": "openshift-monitoring"},
        "spec": {"groups": [{"name": "g", "rules": [{"record": RECORD, "expr": "vector(1)"}]}]}})
    assert status == 201, body
    platform.wait_for(DESCHEDULER, lambda o: (o["spec"].get("profileCustomizations") or {}).get(
        "devActualUtilizationProfile") == "PrometheusCPUCombined", timeout=30,
        what="the descheduler follows the new recording rule")
    assert len(c.log_lines("resync")) == 0
