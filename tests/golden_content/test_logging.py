"""Logging: LokiStack size by topology, storage by platform; forwarder and its bindings."""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState

from .rendering import context, infrastructure, make_hco, make_nodes, one

P = "platform.kubevirt.io/"
HCO = make_hco({P + "enable-logging": "true"})


def lokistack(golden: GoldenState, **ctx_kw: Any) -> dict[str, Any]:
    obj = one(golden, "logging-lokistack", context(HCO, **ctx_kw))
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
    ("platform", "storage_type", "storage_class"),
    [
        ("AWS", "s3", "gp3-csi"),
        ("GCP", "gcs", "standard-csi"),
        ("Azure", "azure", "managed-csi"),
        ("OpenStack", "swift", "standard-csi"),
        ("BareMetal", "s3", "ocs-storagecluster-ceph-rbd"),
        ("None", "s3", "ocs-storagecluster-ceph-rbd"),
        ("", "s3", "ocs-storagecluster-ceph-rbd"),
    ],
)
def test_storage_by_platform(
    golden: GoldenState, platform: str, storage_type: str, storage_class: str
) -> None:
    spec = lokistack(golden, infra=infrastructure(platform=platform) if platform else None)
    assert spec["storage"]["secret"] == {"name": f"logging-loki-{storage_type}",
                                          "type": storage_type}
    assert spec["storageClassName"] == storage_class
    assert spec["limits"]["global"]["retention"]["days"] == 7
    assert spec["tenants"]["mode"] == "openshift-logging"


def test_forwarder_without_audit(golden: GoldenState) -> None:
    clf = one(golden, "logging-clusterlogforwarder", context(HCO))
    assert clf["apiVersion"] == "observability.openshift.io/v1"
    spec = clf["spec"]
    assert spec["serviceAccount"]["name"] == "collector"
    assert spec["outputs"][0]["lokiStack"]["target"] == {"name": "logging-loki",
                                                          "namespace": "openshift-logging"}
    assert [p["name"] for p in spec["pipelines"]] == ["default-logstore"]
    assert spec["pipelines"][0]["filterRefs"] == ["drop-debug", "drop-health-probes"]
    assert {f["name"] for f in spec["filters"]} == {"drop-debug", "drop-health-probes"}


def test_forwarder_with_audit(golden: GoldenState) -> None:
    hco = make_hco({P + "enable-logging": "true", P + "enable-audit-logging": "true"})
    spec = one(golden, "logging-clusterlogforwarder", context(hco))["spec"]
    audit = next(p for p in spec["pipelines"] if p["name"] == "audit-logstore")
    assert audit["inputRefs"] == ["audit"] and audit["filterRefs"] == ["audit-noise"]
    noise = next(f for f in spec["filters"] if f["name"] == "audit-noise")
    assert noise["type"] == "kubeAPIAudit"
    assert noise["kubeAPIAudit"]["omitStages"] == ["RequestReceived"]


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
