"""Contract §5/§7: missing CRDs, missing namespaces, tombstones, hardware triggers."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from kubesim.controls import Controls
from tests.support import rbac
from tests.support.controller import PROJECT
from tests.support.passes import full_pass
from tests.support.platform import HCO_NS, Platform, crd_name, labels_of, minimal_crd
from tests.support.wait import eventually_sync

SVC_NAME = "virt-platform-autopilot-metrics"
MISSING = "virt_platform_missing_dependency"
MANAGED = {"platform.kubevirt.io/managed-by": "virt-platform-autopilot"}
UIPLUGINS = "/apis/observability.openshift.io/v1alpha1/uiplugins"


def leftover_uiplugin(platform: Platform, cluster: Any) -> None:
    """The old console plugin, as an earlier operator release left it behind.

    Today's published UIPlugin schema refuses that name (a Monitoring plugin must be named
    ``monitoring``), so it is created under a schema-less CRD; then the published CRD is
    installed again, as an upgrade would (stored objects are not validated again).
    """
    stand_in = cluster.workdir / "uiplugin-crd.json"
    stand_in.write_text(json.dumps(minimal_crd("UIPlugin")))
    cluster.install_crds(stand_in)
    status, body = cluster.api("POST", UIPLUGINS, body={
        "apiVersion": "observability.openshift.io/v1alpha1", "kind": "UIPlugin",
        "metadata": {"name": "kubevirt-plugin", "labels": MANAGED},
        "spec": {"type": "Monitoring"}})
    assert status == 201, body
    platform.install("UIPlugin")


def test_missing_crd_then_installed(cluster: Any, controller: Any) -> None:
    platform = Platform(cluster)
    platform.install("HyperConverged", "MachineConfig", "ServiceMonitor", "UIPlugin",
                     "PersesDashboard")
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    c = controller()
    eventually_sync(lambda: c.metric(MISSING, group="monitoring.coreos.com", version="v1",
                                     kind="PrometheusRule") == 1, what="missing_dependency 1")
    eventually_sync(lambda: [e for e in platform.events(name="kubevirt-hyperconverged",
                                                        namespace=HCO_NS, reason="CRDMissing")
                             if "PrometheusRule" in e.get("note", "")], what="CRDMissing event")
    # An opt-in feature that is off reports nothing, even though its CRD is missing; and
    # no asset fails for a missing CRD (asserted once every asset had its pass).
    full_pass(c, platform)
    assert c.metric(MISSING, group="forklift.konveyor.io", kind="ForkliftController") is None
    assert not c.log_lines("failed to apply")
    platform.install("PrometheusRule")
    path = (f"/apis/monitoring.coreos.com/v1/namespaces/{HCO_NS}/prometheusrules/"
            "virt-platform-autopilot-alerts")
    platform.wait_for(path, timeout=20, what="alerts applied after the CRD appeared")
    eventually_sync(lambda: c.metric(MISSING, group="monitoring.coreos.com", version="v1",
                                     kind="PrometheusRule") is None, what="series gone")


def test_missing_namespace_is_a_quiet_skip(platform: Platform, controller: Any,
                                          cluster: Any) -> None:
    platform.install("MetalLB")
    platform.create_hco({"platform.kubevirt.io/autopilot": "true",
                         "platform.kubevirt.io/enable-metallb": "true"})
    # Installed before MetalLB's operator: no Role in its namespace yet.
    rbac.grant(cluster, only_existing_namespaces=True)
    c = controller()
    eventually_sync(lambda: c.metric("virt_platform_compliance_status", kind="Service",
                                     name=SVC_NAME, namespace=HCO_NS) == 1, what="converged")
    full_pass(c, platform)  # the MetalLB asset comes long after the Service's
    assert c.metric("virt_platform_compliance_status", kind="MetalLB", name="metallb",
                    namespace="metallb-system") is None
    assert not c.log_lines("failed to apply")
    platform.ensure_namespace("metallb-system")
    rbac.grant(cluster)  # applied again once the operator is installed, as the install says
    platform.wait_for("/apis/metallb.io/v1beta1/namespaces/metallb-system/metallbs/metallb",
                      what="MetalLB applied once its namespace exists")


def test_tombstones(platform: Platform, controller: Any, cluster: Any) -> None:
    platform.install("NodeHealthCheck")
    ui = UIPLUGINS
    nhc = "/apis/remediation.medik8s.io/v1alpha1/nodehealthchecks"
    leftover_uiplugin(platform, cluster)
    status, body = cluster.api("POST", nhc, body={
        "apiVersion": "remediation.medik8s.io/v1alpha1", "kind": "NodeHealthCheck",
        "metadata": {"name": "virt-node-health-check"},
        "spec": {"selector": {}, "remediationTemplate": {
            "apiVersion": "v1", "kind": "X", "name": "x", "namespace": "default"}}})
    assert status == 201, body
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    c = controller()
    eventually_sync(lambda: platform.get(f"{ui}/kubevirt-plugin") is None, what="labelled deleted")
    eventually_sync(lambda: c.metric("virt_platform_tombstone_status", kind="UIPlugin",
                                     name="kubevirt-plugin") == 0, what="status 0")
    eventually_sync(lambda: c.metric("virt_platform_tombstone_status", kind="NodeHealthCheck",
                                     name="virt-node-health-check") == -2, what="status -2")
    assert platform.get(f"{nhc}/virt-node-health-check") is not None
    # Events go out once the work in hand is done (at most 2 s later).
    eventually_sync(lambda: platform.events(name="kubevirt-plugin", namespace="default",
                                            reason="TombstoneDeleted"), what="TombstoneDeleted")
    eventually_sync(lambda: platform.events(name="virt-node-health-check", namespace="default",
                                            reason="TombstoneSkipped"), what="TombstoneSkipped")


def test_tombstone_delete_denied(platform: Platform, controller: Any, cluster: Any) -> None:
    leftover_uiplugin(platform, cluster)
    rbac.grant(cluster, edit=lambda role: rbac.without(
        role, group="observability.openshift.io", resource="uiplugins", verb="delete"))
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    c = controller()
    eventually_sync(lambda: c.metric("virt_platform_tombstone_status", kind="UIPlugin",
                                     name="kubevirt-plugin") == -1, what="status -1")
    eventually_sync(lambda: platform.events(name="kubevirt-plugin", namespace="default",
                                            reason="TombstoneFailed"), what="TombstoneFailed")


def test_node_hardware_makes_pci_passthrough_eligible(platform: Platform, controller: Any,
                                                     cluster: Any) -> None:
    status, body = cluster.api("POST", "/api/v1/nodes", body={
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-0", "labels": {
            "node-role.kubernetes.io/worker": ""}}})
    assert status == 201, body
    platform.create_hco({"platform.kubevirt.io/autopilot": "true",
                         "platform.kubevirt.io/openshift": "true",
                         "platform.kubevirt.io/enable-pci-passthrough": "true"})
    c = controller()
    mc = "/apis/machineconfiguration.openshift.io/v1/machineconfigs/50-virt-pci-passthrough"
    eventually_sync(lambda: c.metric("virt_platform_compliance_status", kind="Service",
                                     name=SVC_NAME, namespace=HCO_NS) == 1, what="converged")
    full_pass(c, platform)  # the PCI asset comes long after the Service's
    assert platform.get(mc) is None
    platform.patch("/api/v1/nodes/worker-0", {"metadata": {"labels": {
        "feature.node.kubernetes.io/pci-present": "true"}}})
    obj = platform.wait_for(mc, what="PCI passthrough MachineConfig applied")
    assert labels_of(obj)["platform.kubevirt.io/managed-by"] == "virt-platform-autopilot"
    assert "intel_iommu=on" in obj["spec"]["kernelArguments"]


def test_crd_removed_while_running_says_no_matches_for_kind(cluster: Any, faults: Controls,
                                                            controller: Any) -> None:
    """The runbook's "kind is not served" section greps for kubectl's wording and the CRD
    name; the API server itself only answers "404 page not found" (contract §5).

    The controller learns a kind is going from the CRDs' watch, before its objects are
    deleted; an object's pass gets this answer when it reaches the server first (the
    pass and the CRD event come from different watches). The CRDs' watch is held
    silent until the pass has failed, so the order is the test's, not luck's."""
    grepped = ('no matches for kind "KubeletConfig" in version '
               '"machineconfiguration.openshift.io/v1"')
    crd = crd_name("KubeletConfig")
    platform = Platform(cluster)
    platform.install("HyperConverged", "KubeletConfig")
    platform.create_hco({"platform.kubevirt.io/autopilot": "true",
                         "platform.kubevirt.io/enable-kubelet-performance-settings": "true"})
    c = controller()
    eventually_sync(lambda: c.metric("virt_platform_compliance_status", kind="KubeletConfig",
                                     name="virt-perf-settings") == 1, what="KubeletConfig applied")
    faults.silence_watches(True, resource="customresourcedefinitions")
    cluster.delete_crds(crd)
    # The object's deletion queues a pass the CRDs' watch has not forestalled: it fails
    # (at once, or on a retry once the CRD is gone).
    failed = eventually_sync(lambda: [line for line in c.log_lines("failed to apply",
                                                                   kind="KubeletConfig")
                                      if grepped in line["error"]],
                             what="a failed to apply line naming the kind")
    faults.silence_watches(False, resource="customresourcedefinitions")
    faults.drop_watches()  # the CRDs' watch resumes, and tells the deletion
    assert crd in failed[0]["error"] and failed[0]["level"] == "error", failed[0]
    eventually_sync(lambda: c.metric(MISSING, kind="KubeletConfig") == 1,
                    what="then reported as a missing dependency")
    raw = ("404 page not found", "the server could not find the requested resource")
    assert not [line for line in c.log_lines("failed to apply") if line["error"] in raw]
    event = eventually_sync(lambda: [e for e in platform.events(
        name="virt-perf-settings", namespace="default", reason="ApplyFailed")
        if grepped in (e.get("note") or "")], what="an ApplyFailed event naming the kind")[0]
    assert crd in event["note"], event
    # And `autopilot explain`, asked about the object, says the same.
    proc = subprocess.run(
        [sys.executable, "-m", "autopilot", "explain", "KubeletConfig", "virt-perf-settings",
         "--kubeconfig", str(cluster.kubeconfig),
         "--debug-address", f"127.0.0.1:{c.debug_port}"],
        cwd=PROJECT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert grepped in proc.stdout and crd in proc.stdout, proc.stdout
