"""Drop-in for a cluster that ran the reference operator (issue: migration from it).

The cluster starts with objects as the reference operator left them: its names, its
ownership label, written with server-side apply by the same field manager. The HCO's
allowlist uses the reference's asset names. After one pass (the resync is pushed far
out, so no second pass helps) our objects exist and are compliant, the reference's
duplicates under other names are gone, and nothing unlabelled was deleted.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from autopilot.golden.catalog import load_golden_state
from autopilot.golden.tombstones import Tombstone
from tests.integration.conftest import Paths, render_offline
from tests.support.passes import full_pass
from tests.support.platform import HCO_NS, Platform
from tests.support.wait import eventually_sync

PROJECT = Path(__file__).resolve().parents[2]
MANAGED = {"platform.kubevirt.io/managed-by": "virt-platform-autopilot"}
EXPORTER_NS = "kubevirt-metrics-exporter"
IMAGE = {"RELATED_IMAGE_KUBEVIRT_METRICS_EXPORTER": "quay.io/example/exporter:1"}
# The reference's own names, in its spelling habits (case does not matter).
ALLOWLIST = ",".join([
    "metrics-service", "logging-collector-crb-application", "Logging-Collector-CRB-Infrastructure",
    "logging-collector-crb-writer", "logging-collector-crb-audit", "descheduler-dashboard",
    "kubevirt-metrics-exporter-datasource", "kubevirt-metrics-exporter-prometheusrule",
    "kubevirt-metrics-exporter-scc", "kubevirt-metrics-exporter-scc-clusterrole",
    "kubevirt-metrics-exporter-scc-clusterrolebinding", "sbr-detection-config",
])
ANNOTATIONS = {
    "platform.kubevirt.io/autopilot": ALLOWLIST,
    "platform.kubevirt.io/enable-logging": "true",
    "platform.kubevirt.io/enable-audit-logging": "true",
    "platform.kubevirt.io/enable-kubevirt-metrics-exporter": "true",
    "platform.kubevirt.io/enable-node-remediation": "true",
    "platform.kubevirt.io/sbr-storage-class": "shared-rwx",
}
STATUS = "virt_platform_tombstone_status"
COMPLIANCE = "virt_platform_compliance_status"
# Kinds whose unlabelled objects are counted before and after (nothing may go).
WATCHED = {
    "clusterrolebindings": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "clusterroles": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "persesdashboards": "/apis/perses.dev/v1alpha2/persesdashboards",
    "persesdatasources": "/apis/perses.dev/v1alpha2/persesdatasources",
    "prometheusrules": "/apis/monitoring.coreos.com/v1/prometheusrules",
}


def reference_tombstones() -> list[Tombstone]:
    golden = load_golden_state(PROJECT / "golden_state")
    return [t for t in golden.tombstones if t.source.startswith("tombstones/reference-operator")]


def ours(rendered: list[dict[str, Any]], tomb: Tombstone) -> dict[str, Any] | None:
    """Our object that replaces ``tomb`` (same kind), from the offline render."""
    after = tomb.after
    assert after is not None
    for obj in rendered:
        meta = obj["metadata"]
        if after.names_object and after.matches(
            kind=obj["kind"], name=meta["name"], namespace=meta.get("namespace") or ""
        ):
            return obj
    return None


def as_the_reference_left_it(rendered: list[dict[str, Any]], tomb: Tombstone) -> dict[str, Any]:
    """The old object: our replacement's content under the reference's name and label."""
    base = ours(rendered, tomb)
    if base is None:  # the SCC grant: the reference's own ClusterRole and binding
        base = {"rules": [{"apiGroups": ["security.openshift.io"],
                           "resources": ["securitycontextconstraints"],
                           "resourceNames": [EXPORTER_NS], "verbs": ["use"]}]} \
            if tomb.kind == "ClusterRole" else {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": tomb.name},
            "subjects": [{"kind": "ServiceAccount", "name": EXPORTER_NS,
                          "namespace": EXPORTER_NS}]}
    obj = copy.deepcopy(base)
    obj["apiVersion"], obj["kind"] = tomb.api_version, tomb.kind
    obj["metadata"] = {"name": tomb.name, "labels": dict(MANAGED)}
    if tomb.namespace:
        obj["metadata"]["namespace"] = tomb.namespace
    return obj


def apply(cluster: Any, paths: Paths, obj: dict[str, Any], *, manager: str) -> None:
    status, body = cluster.api(
        "PATCH", paths.of(obj), body=obj, content_type="application/apply-patch+yaml",
        query={"fieldManager": manager, "force": "true"})
    assert status in (200, 201), (obj["kind"], obj["metadata"]["name"], status, body)


def unlabelled(cluster: Any) -> set[tuple[str, str, str]]:
    out: set[tuple[str, str, str]] = set()
    for plural, path in WATCHED.items():
        status, body = cluster.api("GET", path)
        assert status == 200, (path, status)
        for item in body.get("items", []):
            meta = item["metadata"]
            if not (meta.get("labels") or {}).get("platform.kubevirt.io/managed-by"):
                out.add((plural, meta.get("namespace") or "", meta["name"]))
    return out


@pytest.mark.timeout(180)
def test_cluster_that_ran_the_reference_operator(
    platform: Platform, controller: Any, cluster: Any, paths: Paths,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(*next(iter(IMAGE.items())))
    platform.install("PersesDatasource", "StorageBasedRemediationConfig",
                     "SecurityContextConstraints")
    for ns in (HCO_NS, EXPORTER_NS, "openshift-workload-availability"):
        platform.ensure_namespace(ns)
    rendered = render_offline(ANNOTATIONS)
    tombstones = reference_tombstones()
    assert len(tombstones) >= 9
    # The administrator re-created one reference name by hand: not ours to delete.
    admin_owned = next(t for t in tombstones if t.name == "logging-collector-audit")
    for tomb in tombstones:
        old = as_the_reference_left_it(rendered, tomb)
        if tomb is admin_owned:
            old["metadata"].pop("labels")
        apply(cluster, paths, old, manager="admin" if tomb is admin_owned else
              "virt-platform-autopilot")
    before = unlabelled(cluster)
    assert ("clusterrolebindings", "", admin_owned.name) in before
    platform.create_hco(ANNOTATIONS)

    c = controller("--resync-period", "10m", env=IMAGE)

    deleted = [t for t in tombstones if t is not admin_owned]
    for tomb in deleted:
        eventually_sync(lambda t=tomb: c.metric(STATUS, kind=t.kind, name=t.name) == 0,
                        timeout=30, what=f"{tomb.kind} {tomb.name} deleted")
        old = as_the_reference_left_it(rendered, tomb)
        assert platform.get(paths.of(old)) is None, f"{tomb.kind} {tomb.name} still there"
    for tomb in deleted:
        new = ours(rendered, tomb)
        if new is None:
            continue  # replaced by the SCC itself, checked below
        meta = new["metadata"]
        assert c.metric(COMPLIANCE, kind=new["kind"], name=meta["name"],
                        namespace=meta.get("namespace") or "") == 1, meta["name"]
        assert platform.get(paths.of(new)) is not None
    assert c.metric(COMPLIANCE, kind="SecurityContextConstraints", name=EXPORTER_NS) == 1
    # The hand-made object stays, reported as skipped.
    eventually_sync(lambda: c.metric(STATUS, kind="ClusterRoleBinding",
                                     name=admin_owned.name) == -2, what="admin object skipped")
    assert platform.get(paths.of(as_the_reference_left_it(rendered, admin_owned))) is not None
    assert before <= unlabelled(cluster), "an unlabelled object was deleted"
    eventually_sync(lambda: platform.events(name="thanos-querier", namespace=EXPORTER_NS,
                                            reason="TombstoneDeleted"), what="TombstoneDeleted")
    assert not c.log_lines("autopilot allowlist names unknown assets")
    full_pass(c, platform)
    assert not c.log_lines("failed to apply")


@pytest.mark.timeout(120)
def test_disabled_resources_for_a_reference_object_keeps_both_as_they_are(
    platform: Platform, controller: Any, cluster: Any, paths: Paths,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(*next(iter(IMAGE.items())))
    platform.install("PersesDatasource")
    platform.ensure_namespace(EXPORTER_NS)
    annotations = {
        "platform.kubevirt.io/autopilot": "kubevirt-metrics-exporter-datasource,metrics-service",
        "platform.kubevirt.io/enable-kubevirt-metrics-exporter": "true",
        # Written for the reference operator: "leave my thanos-querier datasource alone".
        "platform.kubevirt.io/disabled-resources":
            f"- {{kind: PersesDatasource, name: thanos-querier, namespace: {EXPORTER_NS}}}",
    }
    rendered = render_offline({**annotations, "platform.kubevirt.io/disabled-resources": ""})
    [tomb] = [t for t in reference_tombstones() if t.name == "thanos-querier"]
    old = as_the_reference_left_it(rendered, tomb)
    apply(cluster, paths, old, manager="virt-platform-autopilot")
    platform.create_hco(annotations)
    c = controller(env=IMAGE)
    eventually_sync(lambda: c.metric(STATUS, kind="PersesDatasource", name="thanos-querier") == 1,
                    what="old datasource kept on purpose")
    full_pass(c, platform)  # the successor's asset had its pass: "not applied" is meant
    new = ours(rendered, tomb)
    assert new is not None
    assert platform.get(paths.of(new)) is None, "the renamed successor was applied anyway"
    assert platform.get(paths.of(old)) is not None
    assert c.metric(COMPLIANCE, kind="Service", name="virt-platform-autopilot-metrics",
                    namespace=HCO_NS) == 1


def test_misspelt_name_is_reported_with_a_suggestion(platform: Platform, controller: Any) -> None:
    platform.create_hco({"platform.kubevirt.io/autopilot": "Metrics-Service,swap-enabel"})
    c = controller()
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service",
                                     name="virt-platform-autopilot-metrics",
                                     namespace=HCO_NS) == 1, what="reference name applied")
    [event] = eventually_sync(lambda: platform.events(
        name="kubevirt-hyperconverged", namespace=HCO_NS, reason="InvalidAllowlist"),
        what="InvalidAllowlist event")
    assert event["type"] == "Warning"
    assert 'swap-enabel (did you mean "swap-enable"?)' in event["note"]
    [line] = c.log_lines("autopilot allowlist names unknown assets")
    assert line["unknown"] == ["swap-enabel"]
    assert line["suggestions"] == {"swap-enabel": "swap-enable"}
