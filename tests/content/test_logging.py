"""Logging: LokiStack size by topology, storage by platform; forwarder and its bindings."""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from tests.support.rendering import (
    context,
    infrastructure,
    make_hco,
    make_nodes,
    one,
    plan,
    snapshot,
)

P = "platform.kubevirt.io/"
HCO = make_hco({P + "enable-logging": "true"})


SC = "storage.k8s.io/v1"


def storage_class(name: str, *, default: bool = False) -> dict[str, Any]:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"apiVersion": SC, "kind": "StorageClass",
            "metadata": {"name": name, "annotations": annotations,
                         "creationTimestamp": "2024-01-01T00:00:00Z"}}


DEFAULT_ONLY = snapshot(storage_class("standard", default=True))


def lokistack(golden: GoldenState, *, hco: dict[str, Any] = HCO,
              lookups: Any = DEFAULT_ONLY, **ctx_kw: Any) -> dict[str, Any]:
    obj = one(golden, "logging-lokistack", context(hco, **ctx_kw), lookups=lookups)
    assert obj["apiVersion"] == "loki.grafana.com/v1" and obj["kind"] == "LokiStack"
    assert (obj["metadata"]["namespace"], obj["metadata"]["name"]) == (
        "openshift-logging", "logging-loki")
    return obj["spec"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("masters", "workers", "control_plane", "size"),
    [
        (0, 2, "External", "1x.extra-small"),  # hosted control plane
        (0, 40, "External", "1x.extra-small"),  # hosted, however big
        (1, 0, "", "1x.pico"),  # single node
        (3, 0, "", "1x.pico"),  # compact
        (3, 7, "", "1x.extra-small"),
        (3, 8, "", "1x.medium"),
        (3, 50, "", "1x.medium"),
    ],
)
def test_size_by_topology(
    golden: GoldenState, masters: int, workers: int, control_plane: str, size: str
) -> None:
    spec = lokistack(
        golden,
        nodes=make_nodes(masters=masters, workers=workers),
        infra=infrastructure(platform="AWS", control_plane=control_plane),
    )
    assert spec["size"] == size


@pytest.mark.parametrize(
    ("platform", "storage_type"),
    [("AWS", "s3"), ("GCP", "gcs"), ("Azure", "azure"), ("OpenStack", "s3"),
     ("BareMetal", "s3"), ("None", "s3"), ("", "s3")],
)
def test_object_storage_by_platform(golden: GoldenState, platform: str, storage_type: str) -> None:
    spec = lokistack(golden, infra=infrastructure(platform=platform) if platform else None)
    assert spec["storage"]["secret"] == {"name": "logging-loki-storage", "type": storage_type}
    assert spec["limits"]["global"]["retention"]["days"] == 7
    assert spec["tenants"]["mode"] == "openshift-logging"


def live_stack(storage_class_name: str) -> dict[str, Any]:
    return {"apiVersion": "loki.grafana.com/v1", "kind": "LokiStack",
            "metadata": {"name": "logging-loki", "namespace": "openshift-logging"},
            "spec": {"storageClassName": storage_class_name}}


PIN = {P + "enable-logging": "true", P + "logging-storage-class": "fast-nvme"}


@pytest.mark.parametrize(
    ("platform", "objects", "hco", "expected"),
    [
        # No ODF on this cluster: its class is never guessed, the default is used.
        ("BareMetal", [storage_class("standard", default=True)], HCO, "standard"),
        ("AWS", [storage_class("gp3-csi", default=True), storage_class("gp2-csi")], HCO,
         "gp3-csi"),
        # LVM Storage present (single node, edge).
        ("BareMetal", [storage_class("lvms-vg1"), storage_class("standard", default=True)],
         HCO, "lvms-vg1"),
        ("VSphere", [storage_class("thin-csi"), storage_class("other", default=True)], HCO,
         "thin-csi"),
        ("VSphere", [storage_class("other", default=True)], HCO, "other"),
        # The administrator's choice wins over everything.
        ("BareMetal", [storage_class("lvms-vg1")], make_hco(PIN), "fast-nvme"),
        # A running stack keeps its class while that class exists ...
        ("BareMetal", [storage_class("lvms-vg1"), storage_class("old-class"),
                       live_stack("old-class")], HCO, "old-class"),
        # ... and moves on when it is gone (e.g. a class guessed by an earlier version).
        ("BareMetal", [storage_class("standard", default=True),
                       live_stack("ocs-storagecluster-ceph-rbd")], HCO, "standard"),
    ],
)
def test_storage_class(golden: GoldenState, platform: str, objects: list[dict[str, Any]],
                       hco: dict[str, Any], expected: str) -> None:
    spec = lokistack(golden, hco=hco, lookups=snapshot(*objects),
                     infra=infrastructure(platform=platform))
    assert spec["storageClassName"] == expected


def test_no_storage_class_at_all_is_a_clear_render_failure(golden: GoldenState) -> None:
    result = plan(golden, "logging-lokistack", context(HCO), lookups=snapshot())
    assert result.error is not None
    assert "platform.kubevirt.io/logging-storage-class" in result.error


def test_audit_logging_is_its_own_switch(golden: GoldenState) -> None:
    audit_only = context(make_hco({P + "enable-audit-logging": "true"}))
    binding = one(golden, "logging-collect-audit-logs", audit_only)
    assert binding["roleRef"]["name"] == "collect-audit-logs"
    # Logging alone does not bring the audit binding (nor the audit pipeline).
    assert not plan(golden, "logging-collect-audit-logs", context(HCO)).included
    assert not plan(golden, "logging-clusterlogforwarder", audit_only).included


def test_forwarder_without_audit(golden: GoldenState) -> None:
    clf = one(golden, "logging-clusterlogforwarder", context(HCO))
    assert clf["apiVersion"] == "observability.openshift.io/v1"
    spec = clf["spec"]
    assert spec["serviceAccount"]["name"] == "collector"
    assert spec["outputs"][0]["lokiStack"]["target"] == {"name": "logging-loki",
                                                          "namespace": "openshift-logging"}
    pipelines = {p["name"]: p for p in spec["pipelines"]}
    assert list(pipelines) == ["infra-logs", "app-logs"]
    assert pipelines["infra-logs"]["inputRefs"] == ["infrastructure"]
    assert pipelines["infra-logs"]["filterRefs"] == ["drop-debug-infra", "drop-health-probes"]
    # An application's debug output is its owner's: only health probes are dropped.
    assert pipelines["app-logs"]["inputRefs"] == ["application"]
    assert pipelines["app-logs"]["filterRefs"] == ["drop-health-probes"]
    assert {f["name"] for f in spec["filters"]} == {"drop-debug-infra", "drop-health-probes"}


def test_forwarder_with_audit(golden: GoldenState) -> None:
    hco = make_hco({P + "enable-logging": "true", P + "enable-audit-logging": "true"})
    spec = one(golden, "logging-clusterlogforwarder", context(hco))["spec"]
    audit = next(p for p in spec["pipelines"] if p["name"] == "audit-logs")
    assert audit["inputRefs"] == ["audit"]
    assert audit["filterRefs"] == ["audit-policy", "audit-drop-noise"]
    policy = next(f for f in spec["filters"] if f["name"] == "audit-policy")
    assert policy["type"] == "kubeAPIAudit"
    assert policy["kubeAPIAudit"]["omitStages"] == ["RequestReceived"]
    # Empty, not unset: unset means the default [404, 409, 422, 429].
    assert policy["kubeAPIAudit"]["omitResponseCodes"] == []


@pytest.mark.parametrize(
    "role",
    ["collect-application-logs", "collect-infrastructure-logs", "logging-collector-logs-writer"],
)
def test_collector_bindings(golden: GoldenState, role: str) -> None:
    name = "logging-" + role if role.startswith("collect-") else "logging-collector-logs-writer"
    crb = one(golden, name, context(HCO))
    assert crb["kind"] == "ClusterRoleBinding"
    assert crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": role}
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "collector",
                                "namespace": "openshift-logging"}]


def test_console_log_view(golden: GoldenState) -> None:
    plugin = one(golden, "logging-uiplugin", context(HCO))
    assert plugin["kind"] == "UIPlugin" and plugin["metadata"]["name"] == "logging"
    assert plugin["spec"]["type"] == "Logging"
    assert plugin["spec"]["logging"]["lokiStack"]["name"] == "logging-loki"
