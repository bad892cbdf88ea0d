"""Node remediation: the NodeHealthCheck, and SBR with an RWX storage class when one is known."""

from __future__ import annotations

from autopilot.golden.catalog import GoldenState
from tests.support.rendering import context, make_hco, one, snapshot, storage_profile

P = "platform.kubevirt.io/"
SBR = "node-remediation-sbr-config"


def hco(storage_class: str | None = None) -> dict[str, object]:
    annotations = {P + "enable-node-remediation": "true"}
    if storage_class is not None:
        annotations[P + "sbr-storage-class"] = storage_class
    return make_hco(annotations)


def test_nodehealthcheck(golden: GoldenState) -> None:
    nhc = one(golden, "node-remediation-nodehealthcheck", context(hco()))
    assert nhc["apiVersion"] == "remediation.medik8s.io/v1alpha1"
    assert nhc["metadata"]["name"] == "far" and "namespace" not in nhc["metadata"]
    spec = nhc["spec"]
    assert spec["minHealthy"] == "51%"
    assert spec["selector"]["matchExpressions"] == [
        {"key": "node-role.kubernetes.io/worker", "operator": "Exists"}
    ]
    conditions = {(c["type"], c["status"]): c["duration"] for c in spec["unhealthyConditions"]}
    assert conditions == {("Ready", "False"): "300s", ("Ready", "Unknown"): "300s",
                          ("SBRStorageUnhealthy", "True"): "300s"}
    assert spec["remediationTemplate"]["kind"] == "FenceAgentsRemediationTemplate"


def test_sbr_uses_the_annotated_storage_class(golden: GoldenState) -> None:
    lookups = snapshot(storage_profile("auto-rwx", rwx=True))
    sbr = one(golden, SBR, context(hco("ocs-cephfs")), lookups=lookups)
    assert sbr["kind"] == "StorageBasedRemediationConfig"
    assert sbr["spec"] == {"detectOnlyMode": "Enabled", "sharedStorageClass": "ocs-cephfs"}


def test_sbr_falls_back_to_the_detected_rwx_class(golden: GoldenState) -> None:
    lookups = snapshot(storage_profile("a-rwo", rwx=False), storage_profile("b-rwx", rwx=True))
    for annotated in (None, "", "  "):
        sbr = one(golden, SBR, context(hco(annotated)), lookups=lookups)
        assert sbr["spec"]["sharedStorageClass"] == "b-rwx"


def test_sbr_without_any_rwx_class_leaves_out_only_that_field(golden: GoldenState) -> None:
    lookups = snapshot(storage_profile("rwo", rwx=False))
    sbr = one(golden, SBR, context(hco()), lookups=lookups)
    assert sbr["spec"] == {"detectOnlyMode": "Enabled"}
