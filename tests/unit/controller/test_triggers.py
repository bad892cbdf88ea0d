"""Which watch events enqueue which keys (contract §5)."""

from __future__ import annotations

from typing import Any

from autopilot.controller import keys
from autopilot.controller.state import StateBook
from autopilot.controller.triggers import Triggers
from autopilot.kube.resources import ObjectRef


class FakeReconciler:
    def __init__(self) -> None:
        self.book = StateBook()
        self.forced: list[ObjectRef] = []
        self.resumed: list[ObjectRef] = []
        self.invalidated = 0

    def force(self, ref: ObjectRef) -> None:
        self.forced.append(ref)

    def pause_removed(self, ref: ObjectRef) -> None:
        self.resumed.append(ref)

    def invalidate_all(self) -> None:
        self.invalidated += 1


class FakeAsset:
    def __init__(self, name: str) -> None:
        self.name = name


class FakeGolden:
    assets = (FakeAsset("hco"), FakeAsset("svc"), FakeAsset("mc"))


def make() -> tuple[Triggers, FakeReconciler, list[str], list[str]]:
    added: list[str] = []
    forgotten: list[str] = []
    rec = FakeReconciler()
    t = Triggers(golden=FakeGolden(), book=rec.book, force=rec,  # type: ignore[arg-type]
                 enqueue=added.append, forget=forgotten.append)
    return t, rec, added, forgotten


def svc(**annotations: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "m", "namespace": "ns", "annotations": annotations}}


SVC_KEY = keys.object_key(asset="svc", group="", kind="Service", namespace="ns", name="m")


def test_managed_object_change_enqueues_that_object_of_its_asset() -> None:
    t, rec, added, _ = make()
    rec.book.set_asset_objects("svc", [ObjectRef("v1", "Service", "m", "ns")])
    t.on_managed("MODIFIED", svc(), svc())
    assert added == [SVC_KEY]
    one = keys.object_of(SVC_KEY)
    assert one is not None and one.asset == "svc"
    assert one.identity == ("", "Service", "ns", "m")
    assert keys.asset_of(SVC_KEY) is None


def test_managed_object_deleted_enqueues_its_asset() -> None:
    t, rec, added, _ = make()
    rec.book.set_asset_objects("svc", [ObjectRef("v1", "Service", "m", "ns")])
    t.on_managed("DELETED", svc(), svc())
    assert added == [keys.asset_key("svc")]


def test_object_keys_name_groups_and_odd_names_unambiguously() -> None:
    key = keys.object_key(asset="a/b", group="apps", kind="Deployment", namespace="",
                          name='x"y')
    assert keys.object_of(key) == keys.ObjectKey("a/b", "apps", "Deployment", "", 'x"y')
    assert keys.object_of("object/not json") is None
    assert keys.object_of(keys.asset_key("svc")) is None


def test_unknown_managed_object_enqueues_nothing() -> None:
    t, _, added, _ = make()
    t.on_managed("MODIFIED", svc(), svc())
    assert added == []


def test_force_reconcile_new_value_forces_and_forgets_backoff() -> None:
    t, rec, _added, forgotten = make()
    rec.book.set_asset_objects("svc", [ObjectRef("v1", "Service", "m", "ns")])
    key = "platform.kubevirt.io/force-reconcile"
    t.on_managed("MODIFIED", svc(**{key: "1"}), svc())
    assert rec.forced == [ObjectRef("v1", "Service", "m", "ns")]
    assert forgotten == [keys.asset_key("svc")]
    # A request to look again renders again: the asset's key, not the object's.
    assert _added == [keys.asset_key("svc")]
    t.on_managed("MODIFIED", svc(**{key: "1"}), svc(**{key: "1"}))
    assert len(rec.forced) == 1, "the same value again is not a new request"
    assert _added[-1] == SVC_KEY


def test_pause_removal_resets_the_guard() -> None:
    t, rec, added, _ = make()
    rec.book.set_asset_objects("svc", [ObjectRef("v1", "Service", "m", "ns")])
    paused = svc(**{"platform.kubevirt.io/reconcile-paused": "true"})
    t.on_managed("MODIFIED", svc(), paused)
    assert rec.resumed == [ObjectRef("v1", "Service", "m", "ns")]
    assert added == [keys.asset_key("svc")]


def test_hco_status_only_change_is_ignored() -> None:
    t, _, added, _ = make()
    old = {"metadata": {"annotations": {"a": "1"}}, "spec": {}, "status": {"x": 1}}
    new = {"metadata": {"annotations": {"a": "1"}}, "spec": {}, "status": {"x": 2}}
    t.on_hco("MODIFIED", new, old)
    assert added == []


def test_hco_change_fans_out_hco_asset_first() -> None:
    t, rec, added, _ = make()
    old = {"metadata": {"annotations": {}}, "spec": {}}
    new = {"metadata": {"annotations": {"platform.kubevirt.io/force-reconcile": "x"}}, "spec": {}}
    t.on_hco("MODIFIED", new, old)
    assert added[:3] == [keys.asset_key("hco"), keys.asset_key("svc"), keys.asset_key("mc")]
    assert keys.TOMBSTONES in added
    assert rec.invalidated == 1


def test_node_change_outside_detection_is_ignored() -> None:
    t, _, added, _ = make()
    old = {"metadata": {"labels": {"a": "1"}}, "status": {"capacity": {"cpu": "4"}}}
    new = {"metadata": {"labels": {"a": "1"}}, "status": {"capacity": {"cpu": "8"}}}
    t.on_node("MODIFIED", new, old)
    assert added == []
    new2 = {"metadata": {"labels": {"feature.node.kubernetes.io/pci-present": "true"}},
            "status": {"capacity": {"cpu": "8"}}}
    t.on_node("MODIFIED", new2, new)
    assert keys.asset_key("mc") in added


def test_namespace_added_unblocks_its_assets() -> None:
    t, rec, added, _ = make()
    rec.book.set_asset_objects("mc", [ObjectRef("metallb.io/v1beta1", "MetalLB", "m", "lb")])
    t.on_namespace("ADDED", {"metadata": {"name": "lb"}}, None)
    assert added == [keys.asset_key("mc")]


def test_event_during_an_objects_first_pass_finds_its_asset() -> None:
    # The pass claims the object before it reads it; the asset's object list is only
    # written when the pass ends. An edit landing in between must requeue the object.
    t, rec, added, _ = make()
    rec.book.claim(ObjectRef("v1", "Service", "m", "ns"), "svc")
    t.on_managed("MODIFIED", svc(), svc())
    assert added == [SVC_KEY]
