"""Lookups derived from objects: CRD enums, recording rules, RWX storage profiles."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from autopilot.golden.lookups import OfflineLookups, SnapshotLookups, crd_field_enum
from tests.unit.golden.conftest import SHARED

DESCHEDULER_CRD = SHARED / "crds" / "openshift" / "operator.openshift.io_kubedeschedulers.yaml"


def test_crd_enum_of_array_items() -> None:
    crd = {
        "spec": {
            "versions": [
                {"name": "v1beta1", "storage": False, "schema": {"openAPIV3Schema": {}}},
                {
                    "name": "v1",
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                        "type": "object", "properties": {"profiles": {
                            "type": "array", "items": {"type": "string", "enum": ["A", "B"]}}},
                    }}}},
                },
            ]
        }
    }
    assert crd_field_enum(crd, "spec.profiles") == ["A", "B"]
    assert crd_field_enum(crd, "spec.missing") == []
    assert crd_field_enum({}, "spec.profiles") == []


def test_crd_enum_against_the_real_descheduler_crd() -> None:
    if not DESCHEDULER_CRD.is_file():
        pytest.skip(f"shared CRDs not available ({DESCHEDULER_CRD.parent} absent)")
    crd = YAML(typ="safe").load(DESCHEDULER_CRD.read_text())
    lookups = SnapshotLookups([crd])
    profiles = lookups.crd_enum("kubedeschedulers.operator.openshift.io", "spec.profiles")
    assert "LongLifecycle" in profiles
    assert lookups.crd_enum("absent.example.com", "spec.profiles") == []


def test_recording_rules_and_storage_profiles() -> None:
    objects = [
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
         "metadata": {"name": "r", "namespace": "x"},
         "spec": {"groups": [{"name": "g", "rules": [{"record": "a:b"}, {"alert": "X"}]}]}},
        {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "StorageProfile",
         "metadata": {"name": "zz-rwx"},
         "status": {"claimPropertySets": [{"accessModes": ["ReadWriteMany"],
                                           "volumeMode": "Filesystem"}]}},
        {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "StorageProfile",
         "metadata": {"name": "aa-block"},
         "status": {"claimPropertySets": [{"accessModes": ["ReadWriteMany"],
                                           "volumeMode": "Block"}]}},
    ]
    lookups = SnapshotLookups(objects)
    assert lookups.recording_rule_exists("a:b")
    assert not lookups.recording_rule_exists("X")
    assert lookups.rwx_storage_class() == "zz-rwx"
    assert SnapshotLookups().rwx_storage_class() == ""
    assert lookups.get_object("v1", "ConfigMap", "nope") is None


def test_offline_defaults() -> None:
    off = OfflineLookups()
    assert off.crd_enum("a", "b") == []
    assert off.object_exists("v1", "ConfigMap", "x") is False
    assert off.configmap_value("ns", "n", "k", "d") == "d"
    assert off.recording_rule_exists("r") is False
    assert off.rwx_storage_class() == ""
    assert off.default_storage_class() == ""
    assert off.get_object("v1", "ConfigMap", "x") is None


def _storage_class(name: str, created: str, *, default: str | None = None,
                   beta: bool = False) -> dict[str, object]:
    key = ("storageclass.beta.kubernetes.io/is-default-class" if beta
           else "storageclass.kubernetes.io/is-default-class")
    annotations = {key: default} if default is not None else {}
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name, "creationTimestamp": created,
                         "annotations": annotations}}


def test_default_storage_class() -> None:
    assert SnapshotLookups().default_storage_class() == ""
    plain = SnapshotLookups([_storage_class("slow", "2024-01-01T00:00:00Z"),
                             _storage_class("off", "2024-01-02T00:00:00Z", default="false")])
    assert plain.default_storage_class() == ""
    one = SnapshotLookups([_storage_class("slow", "2024-01-01T00:00:00Z"),
                           _storage_class("gp3-csi", "2024-01-01T00:00:00Z", default="true")])
    assert one.default_storage_class() == "gp3-csi"
    # Several defaults: the newest wins, as the API server's admission picks it.
    several = SnapshotLookups([
        _storage_class("old", "2023-05-01T00:00:00Z", default="true"),
        _storage_class("new", "2024-05-01T00:00:00Z", default="true", beta=True),
    ])
    assert several.default_storage_class() == "new"
