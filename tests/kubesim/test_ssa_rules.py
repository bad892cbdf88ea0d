"""Server-side apply rules on small hand-written objects."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesim.fieldpath import decode_fields_v1, encode_fields_v1, path_string
from kubesim.schema import TypeSchema, builtin_schema
from kubesim.ssa import (
    ApplyConflict,
    InvalidObject,
    manager_from_user_agent,
    record_update,
    server_side_apply,
)

T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:00:01Z"
T2 = "2026-01-01T00:00:02Z"

CONFIGMAP = builtin_schema("", "v1", "ConfigMap")
SERVICE = builtin_schema("", "v1", "Service")
CLUSTERROLE = builtin_schema("rbac.authorization.k8s.io", "v1", "ClusterRole")
DAEMONSET = builtin_schema("apps", "v1", "DaemonSet")


def cm(data: dict[str, str], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": "ns", **meta},
        "data": data,
    }


def apply(live: dict[str, Any] | None, obj: dict[str, Any], manager: str, **kw: Any) -> Any:
    return server_side_apply(
        live=live,
        applied=obj,
        manager=manager,
        force=kw.get("force", False),
        schema=kw.get("schema", CONFIGMAP),
        now=kw.get("now", T0),
    )


def owned(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    for entry in obj["metadata"].get("managedFields", []):
        if entry["manager"] == manager:
            fields: dict[str, Any] = entry["fieldsV1"]
            return fields
    return {}


def test_create_records_applier_without_identity_fields() -> None:
    out = apply(None, cm({"a": "1"}, labels={"l": "v"}), "me")
    assert out["data"] == {"a": "1"}
    [entry] = out["metadata"]["managedFields"]
    assert entry == {
        "manager": "me",
        "operation": "Apply",
        "apiVersion": "v1",
        "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:l": {}}}},
    }


def test_reapply_same_config_is_a_noop_keeping_time() -> None:
    first = apply(None, cm({"a": "1"}), "me")
    first["metadata"].update(resourceVersion="5", uid="u")
    again = apply(first, cm({"a": "1"}), "me", now=T2)
    assert again == first


def test_inputs_are_not_mutated_and_system_metadata_kept() -> None:
    live = apply(None, cm({"a": "1"}), "me")
    live["metadata"].update(resourceVersion="5", uid="u", generation=1, creationTimestamp=T0)
    live["status"] = {"phase": "x"}
    applied = cm({"a": "2"}, resourceVersion="1")
    applied["status"] = {"phase": "mine"}
    snapshot = (copy.deepcopy(live), copy.deepcopy(applied))
    out = apply(live, applied, "me", now=T1)
    assert (live, applied) == snapshot
    assert out["metadata"]["resourceVersion"] == "5"
    assert out["metadata"]["uid"] == "u"
    assert out["metadata"]["generation"] == 1
    assert out["status"] == {"phase": "x"}
    assert out["metadata"]["managedFields"][0]["time"] == T1


def test_conflict_with_updater_then_force_takes_field() -> None:
    live = apply(None, cm({"a": "1", "b": "2"}), "me")
    edited = copy.deepcopy(live)
    edited["data"]["a"] = "user"
    live = record_update(old=live, new=edited, manager="kubectl-edit", schema=CONFIGMAP, now=T1)
    assert owned(live, "me") == {"f:data": {"f:b": {}}}
    assert owned(live, "kubectl-edit") == {"f:data": {"f:a": {}}}
    with pytest.raises(ApplyConflict) as err:
        apply(live, cm({"a": "1", "b": "2"}), "me", now=T2)
    assert err.value.conflicts == [("kubectl-edit", ".data.a")]
    assert err.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.a'
    )
    assert err.value.causes == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-edit" using v1',
            "field": ".data.a",
        }
    ]
    forced = apply(live, cm({"a": "1", "b": "2"}), "me", force=True, now=T2)
    assert forced["data"] == {"a": "1", "b": "2"}
    assert [e["manager"] for e in forced["metadata"]["managedFields"]] == ["me"]


def test_several_conflicts_use_the_multi_line_format() -> None:
    live = apply(None, cm({"a": "1", "b": "1", "c": "1"}), "one")
    live = apply(live, cm({"c": "1"}), "two")
    with pytest.raises(ApplyConflict) as err:
        apply(live, cm({"a": "2", "b": "2", "c": "2"}), "three")
    assert err.value.message == (
        "Apply failed with 4 conflicts: "
        'conflicts with "one":\n- .data.a\n- .data.b\n- .data.c\n'
        'conflicts with "two":\n- .data.c'
    )
    assert [c["field"] for c in err.value.causes] == [".data.a", ".data.b", ".data.c", ".data.c"]


def test_same_value_is_shared_and_survives_one_owner_leaving() -> None:
    live = apply(None, cm({"a": "1"}), "one")
    live = apply(live, cm({"a": "1", "b": "2"}), "two")
    assert owned(live, "two") == {"f:data": {"f:a": {}, "f:b": {}}}
    live = apply(live, cm({"b": "2"}), "two", now=T1)
    assert live["data"] == {"a": "1", "b": "2"}
    live = apply(live, cm({}), "one", now=T2)
    assert live["data"] == {"b": "2"}


def test_field_no_longer_applied_is_removed() -> None:
    live = apply(None, cm({"a": "1", "b": "2"}, labels={"l": "v"}), "me")
    live = apply(live, cm({"a": "1"}), "me", now=T1)
    assert live["data"] == {"a": "1"}
    assert "labels" not in live["metadata"]
    assert owned(live, "me") == {"f:data": {"f:a": {}}}


def test_unowned_field_is_not_removed_by_pruning() -> None:
    live = apply(None, cm({"a": "1"}), "me")
    live["data"]["extra"] = "kept"  # nobody owns it
    out = apply(live, cm({"b": "2"}), "me", now=T1)
    assert out["data"] == {"extra": "kept", "b": "2"}


def test_update_manager_keeps_field_applier_drops() -> None:
    live = apply(None, cm({"a": "1"}), "me")
    edited = copy.deepcopy(live)
    edited["data"]["b"] = "user"
    live = record_update(old=live, new=edited, manager="edit", schema=CONFIGMAP, now=T1)
    live = apply(live, cm({"a": "1", "b": "user"}), "me", now=T2)
    out = apply(live, cm({"a": "1"}), "me", now=T2)
    assert out["data"] == {"a": "1", "b": "user"}


def svc(ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "ns"},
        "spec": {"ports": ports},
    }


def test_list_map_items_merge_per_element() -> None:
    live = apply(None, svc([{"port": 80, "name": "a"}]), "one", schema=SERVICE)
    live = apply(live, svc([{"port": 81, "name": "b"}]), "two", schema=SERVICE)
    assert [p["port"] for p in live["spec"]["ports"]] == [80, 81]
    assert owned(live, "one") == {
        "f:spec": {
            "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:name": {}, "f:port": {}}}
        }
    }
    with pytest.raises(ApplyConflict) as err:
        apply(live, svc([{"port": 80, "name": "changed"}]), "two", schema=SERVICE)
    assert err.value.conflicts == [("one", '.spec.ports[port=80,protocol="TCP"].name')]
    live = apply(live, svc([]), "one", schema=SERVICE, now=T1)
    assert live["spec"]["ports"] == [{"port": 81, "name": "b"}]


def test_list_map_item_without_key_or_default_is_invalid() -> None:
    schema = TypeSchema(
        type="object",
        properties={
            "items": TypeSchema(
                type="array",
                list_type="map",
                list_map_keys=("name",),
                items=TypeSchema(type="object", properties={"name": TypeSchema(type="string")}),
            )
        },
    )
    with pytest.raises(InvalidObject, match=r'element 0: .*omits key field "name"'):
        apply(None, {"items": [{"x": 1}]}, "me", schema=schema)
    with pytest.raises(InvalidObject, match="duplicate entries"):
        apply(None, {"items": [{"name": "a"}, {"name": "a"}]}, "me", schema=schema)


def test_set_items_are_owned_by_value() -> None:
    live = apply(None, cm({}, finalizers=["a", "b"]), "one")
    assert owned(live, "one") == {
        "f:data": {},
        "f:metadata": {"f:finalizers": {'v:"a"': {}, 'v:"b"': {}}},
    }
    live = apply(live, cm({}, finalizers=["c"]), "two")
    assert live["metadata"]["finalizers"] == ["a", "b", "c"]
    live = apply(live, cm({}, finalizers=["a"]), "one", now=T1)
    assert live["metadata"]["finalizers"] == ["a", "c"]


def role(verbs: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "r"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": verbs}],
    }


def test_atomic_list_is_replaced_whole_and_conflicts_whole() -> None:
    live = apply(None, role(["get"]), "one", schema=CLUSTERROLE)
    assert owned(live, "one") == {"f:rules": {}}
    with pytest.raises(ApplyConflict) as err:
        apply(live, role(["get", "list"]), "two", schema=CLUSTERROLE)
    assert err.value.message == 'Apply failed with 1 conflict: conflict with "one": .rules'
    out = apply(live, role(["list"]), "two", schema=CLUSTERROLE, force=True)
    assert out["rules"][0]["verbs"] == ["list"]
    assert [e["manager"] for e in out["metadata"]["managedFields"]] == ["two"]


def test_unknown_structure_maps_are_granular_lists_atomic() -> None:
    obj = {
        "apiVersion": "x/v1",
        "kind": "Thing",
        "metadata": {"name": "t"},
        "spec": {"m": {"k": 1}, "l": [1, 2]},
    }
    out = apply(None, obj, "me", schema=None)
    # Every key of an unknown map is owned as a member ("."); the list is one leaf.
    assert owned(out, "me") == {"f:spec": {".": {}, "f:l": {}, "f:m": {".": {}, "f:k": {}}}}
    again = apply(out, {**obj, "spec": {"m": {"k": 1}, "l": [3]}}, "me", schema=None, now=T1)
    assert again["spec"] == {"m": {"k": 1}, "l": [3]}


def test_named_struct_removed_when_nobody_owns_anything_in_it() -> None:
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "d", "namespace": "ns"},
        "spec": {"updateStrategy": {"type": "RollingUpdate"}, "revisionHistoryLimit": 3},
    }
    live = apply(None, ds, "me", schema=DAEMONSET)
    live["spec"]["updateStrategy"]["rollingUpdate"] = {"maxSurge": 0}  # server default, unowned
    del ds["spec"]["updateStrategy"]
    out = apply(live, ds, "me", schema=DAEMONSET, now=T1)
    assert out["spec"] == {"revisionHistoryLimit": 3}


def test_record_update_create_marks_new_containers() -> None:
    new = cm({"a": "1"}, labels={"l": "v"})
    out = record_update(old=None, new=new, manager="kubectl-create", schema=CONFIGMAP, now=T0)
    [entry] = out["metadata"]["managedFields"]
    assert entry["operation"] == "Update"
    assert entry["fieldsV1"] == {
        "f:data": {".": {}, "f:a": {}},
        "f:metadata": {"f:labels": {".": {}, "f:l": {}}},
    }


def test_record_update_without_change_keeps_managed_fields() -> None:
    live = apply(None, cm({"a": "1"}), "me")
    out = record_update(old=live, new=copy.deepcopy(live), manager="x", schema=CONFIGMAP, now=T2)
    assert out["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_status_subresource_writes_own_status_only() -> None:
    live = apply(None, {**cm({"a": "1"}), "status": {"ignored": True}}, "me")
    assert "status" not in live
    live["status"] = {"phase": "old"}
    new = copy.deepcopy(live)
    new["status"] = {"phase": "Ready", "n": 1}
    out = record_update(
        old=live, new=new, manager="ctl", schema=CONFIGMAP, now=T1, subresource="status"
    )
    entry = out["metadata"]["managedFields"][-1]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:n": {}, "f:phase": {}}}
    assert owned(out, "me") == {"f:data": {"f:a": {}}}
    reapplied = apply(out, cm({"a": "1"}), "me", now=T2)
    assert reapplied == out


def test_record_update_drops_managers_left_empty_and_orders_entries() -> None:
    live = apply(None, cm({"a": "1"}), "me")
    edited = copy.deepcopy(live)
    edited["data"] = {"a": "2"}
    out = record_update(old=live, new=edited, manager="edit", schema=CONFIGMAP, now=T1)
    assert [e["manager"] for e in out["metadata"]["managedFields"]] == ["edit"]
    removed = copy.deepcopy(out)
    removed["data"] = {}
    gone = record_update(old=out, new=removed, manager="other", schema=CONFIGMAP, now=T2)
    assert "managedFields" not in gone["metadata"]


def test_managed_fields_sorted_apply_first_then_time_then_name() -> None:
    live = apply(None, cm({"a": "1"}), "zeta", now=T1)
    edited = copy.deepcopy(live)
    edited["data"]["b"] = "x"
    live = record_update(old=live, new=edited, manager="alpha", schema=CONFIGMAP, now=T0)
    live = apply(live, cm({"c": "1"}), "beta", now=T2)
    order = [(e["operation"], e["manager"]) for e in live["metadata"]["managedFields"]]
    assert order == [("Apply", "zeta"), ("Apply", "beta"), ("Update", "alpha")]


def test_fields_v1_roundtrip_and_paths() -> None:
    fields = {
        "f:spec": {
            "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:name": {}}},
            "f:list": {'v:"a"': {}},
        }
    }
    paths = decode_fields_v1(fields)
    assert encode_fields_v1(paths) == {
        "f:spec": {
            "f:list": {'v:"a"': {}},
            "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:name": {}}},
        }
    }
    strings = sorted(path_string(p) for p in paths)
    assert strings == [
        '.spec.list[="a"]',
        '.spec.ports[port=80,protocol="TCP"]',
        '.spec.ports[port=80,protocol="TCP"].name',
    ]


@pytest.mark.parametrize(
    ("ua", "want"),
    [
        ("kubectl/v1.32.0 (linux/amd64) kubernetes/abc", "kubectl"),
        ("kubectl-client-side-apply/v1.32.0 (linux/amd64)", "kubectl-client-side-apply"),
        ("python-requests", "python-requests"),
        ("", ""),
    ],
)
def test_manager_from_user_agent(ua: str, want: str) -> None:
    assert manager_from_user_agent(ua) == want


def test_more_than_ten_updaters_fold_into_ancient_changes() -> None:
    live = apply(None, cm({"base": "1"}), "me")
    for i in range(12):
        edited = copy.deepcopy(live)
        edited["data"][f"k{i}"] = "v"
        stamp = f"2026-01-01T00:01:{i:02d}Z"
        live = record_update(old=live, new=edited, manager=f"u{i}", schema=CONFIGMAP, now=stamp)
    entries = live["metadata"]["managedFields"]
    updaters = [e for e in entries if e["operation"] == "Update"]
    assert len(updaters) == 10
    [bucket] = [e for e in updaters if e["manager"] == "ancient-changes"]
    assert bucket["fieldsV1"] == {"f:data": {"f:k0": {}, "f:k1": {}, "f:k2": {}}}
    assert bucket["time"] == "2026-01-01T00:01:02Z"
    assert {e["manager"] for e in updaters} == {"ancient-changes"} | {f"u{i}" for i in range(3, 12)}


def test_applied_fields_must_be_declared_by_a_known_schema() -> None:
    bad = cm({"a": "1"})
    bad["spec"] = {"oops": 1}
    with pytest.raises(InvalidObject, match=r"^\.spec: field not declared in schema$"):
        apply(None, bad, "me")
    svc_bad = svc([{"port": 80, "bogus": True}])
    with pytest.raises(InvalidObject, match=r'\[port=80,protocol="TCP"\]\.bogus: field not'):
        apply(None, svc_bad, "me", schema=SERVICE)
    # Unknown kinds and preserve-unknown-fields accept anything.
    assert apply(None, bad, "me", schema=None)["spec"] == {"oops": 1}
