"""The tombstone sweep with ``after``: wait for the replacement, keep, skip, then delete."""

from __future__ import annotations

from typing import Any

from autopilot.controller.replacements import ReplacementCheck
from autopilot.controller.state import StateBook
from autopilot.controller.sweeper import TombstoneSweeper
from autopilot.golden.tombstones import Replacement, Tombstone
from autopilot.kube.resources import ObjectRef, ResourceInfo
from autopilot.observability.metrics import (
    TOMBSTONE_DELETED,
    TOMBSTONE_KEPT,
    TOMBSTONE_SKIPPED,
    TOMBSTONE_WAITING,
    Metrics,
)

LABELS = {"platform.kubevirt.io/managed-by": "virt-platform-autopilot"}
CRB = ResourceInfo("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding",
                   "clusterrolebindings", False)
OLD = Tombstone(
    api_version="rbac.authorization.k8s.io/v1", kind="ClusterRoleBinding", name="old-crb",
    labels=LABELS,
    after=Replacement(asset="new-asset", kind="ClusterRoleBinding", name="new-crb"),
)
NEW = ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "new-crb")


class FakeClient:
    def __init__(self, live: dict[str, dict[str, Any]]) -> None:
        self.live = live
        self.deleted: list[str] = []

    async def get(self, res: ResourceInfo, name: str, *, namespace: str | None = None) -> Any:
        return self.live.get(name)

    async def delete(self, res: ResourceInfo, name: str, *, namespace: str | None = None) -> Any:
        self.deleted.append(name)
        self.live.pop(name, None)


class FakeView:
    def resource_for(self, api_version: str, kind: str) -> ResourceInfo | None:
        return CRB if kind == "ClusterRoleBinding" else None


class Events:
    def __init__(self) -> None:
        self.reasons: list[tuple[str, str]] = []

    def emit(self, regarding: dict[str, Any], *, type: str, reason: str, note: str,
             action: str) -> None:
        self.reasons.append((regarding["metadata"]["name"], reason))


def live(name: str, **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": dict(LABELS), "annotations": annotations}}


class World:
    def __init__(self, *tombstones: Tombstone, objects: dict[str, dict[str, Any]],
                 seen: Any = None) -> None:
        self.book = StateBook()
        self.reconciled: set[str] = set()
        self.client = FakeClient(objects)
        self.events = Events()
        self.metrics = Metrics()
        self.sweeper = TombstoneSweeper(
            tombstones=tombstones or (OLD,), client=self.client,  # type: ignore[arg-type]
            view=FakeView(), events=self.events, metrics=self.metrics,  # type: ignore[arg-type]
            check=ReplacementCheck(book=self.book, reconciled=self.reconciled.__contains__),
            seen=seen,
        )

    def apply_replacement(self, compliance: int | None) -> None:
        """What an asset pass leaves in the book."""
        self.reconciled.add("new-asset")
        self.book.set_asset_objects("new-asset", [NEW])
        self.book.object(NEW, asset="new-asset").compliance = compliance

    def status(self, name: str = "old-crb") -> float | None:
        value = self.metrics.registry.get_sample_value(
            "virt_platform_tombstone_status",
            {"kind": "ClusterRoleBinding", "name": name, "namespace": ""})
        return value


async def test_waits_for_the_replacement_then_deletes_when_it_comes_into_line() -> None:
    w = World(objects={"old-crb": live("old-crb")})
    await w.sweeper.sweep()
    assert w.status() == TOMBSTONE_WAITING and w.client.deleted == []
    w.apply_replacement(compliance=0)  # applied but failing
    await w.sweeper.after_asset("new-asset")
    assert w.status() == TOMBSTONE_WAITING and w.client.deleted == []
    w.book.object(NEW, asset="new-asset").compliance = 1
    await w.sweeper.after_asset("other-asset")  # not the replacement: nothing happens
    assert w.client.deleted == []
    await w.sweeper.after_asset("new-asset")
    assert w.client.deleted == ["old-crb"] and w.status() == TOMBSTONE_DELETED
    assert ("old-crb", "TombstoneDeleted") in w.events.reasons
    # Waiting is not a failure: no Skipped/Failed event was emitted on the way.
    assert {r for _, r in w.events.reasons} == {"TombstoneDeleted"}


async def test_replacement_not_managed_here_keeps_the_old_object() -> None:
    w = World(objects={"old-crb": live("old-crb")})
    w.reconciled.add("new-asset")  # reconciled, rendered nothing (off, excluded, not listed)
    w.book.set_asset_objects("new-asset", [])
    await w.sweeper.sweep()
    assert w.status() == TOMBSTONE_KEPT and w.client.deleted == []
    [snap] = w.sweeper.snapshot()
    assert snap["status"] == TOMBSTONE_KEPT and "not managed on this cluster" in snap["note"]
    assert snap["after"] == "ClusterRoleBinding new-crb (asset new-asset)"


async def test_never_deletes_an_unmanaged_or_unlabelled_or_rendered_object() -> None:
    handed = Tombstone(api_version=OLD.api_version, kind=OLD.kind, name="handed", labels=LABELS)
    ours = Tombstone(api_version=OLD.api_version, kind=OLD.kind, name="ours", labels=LABELS)
    theirs = Tombstone(api_version=OLD.api_version, kind=OLD.kind, name="theirs", labels=LABELS)
    unlabelled = live("theirs")
    unlabelled["metadata"]["labels"] = {}
    w = World(handed, ours, theirs, objects={
        "handed": live("handed", **{"platform.kubevirt.io/mode": "Unmanaged"}),
        "ours": live("ours"),
        "theirs": unlabelled,
    })
    w.book.set_asset_objects("some-asset", [ObjectRef(OLD.api_version, OLD.kind, "ours")])
    await w.sweeper.sweep()
    assert w.client.deleted == []
    assert [w.status(n) for n in ("handed", "ours", "theirs")] == [TOMBSTONE_SKIPPED] * 3
    notes = {s["name"]: s["note"] for s in w.sweeper.snapshot()}
    assert "unmanaged" in notes["handed"]
    assert "asset some-asset renders this object" in notes["ours"]
    assert "lacks platform.kubevirt.io/managed-by" in notes["theirs"]
    assert ("handed", "TombstoneSkipped") in w.events.reasons


async def test_absent_old_object_is_done_whatever_the_replacement() -> None:
    w = World(objects={})
    await w.sweeper.sweep()
    assert w.status() == TOMBSTONE_DELETED and w.client.deleted == []


class NoReads(FakeClient):
    """A client whose reads fail the test: the sweep must answer from the watch."""

    async def get(self, res: ResourceInfo, name: str, *, namespace: str | None = None) -> Any:
        raise AssertionError(f"GET {name}: a watched tombstone is read from its cache")


async def test_a_watched_tombstone_is_swept_without_a_read() -> None:
    gone = Tombstone(api_version=OLD.api_version, kind=OLD.kind, name="gone", labels=LABELS)
    theirs = Tombstone(api_version=OLD.api_version, kind=OLD.kind, name="theirs", labels=LABELS)
    ours = Tombstone(api_version=OLD.api_version, kind=OLD.kind, name="ours", labels=LABELS)
    unlabelled = live("theirs")
    unlabelled["metadata"]["labels"] = {}
    watched = {"theirs": unlabelled, "ours": live("ours")}
    client = NoReads({})
    events, metrics = Events(), Metrics()
    sweeper = TombstoneSweeper(
        tombstones=(gone, theirs, ours), client=client,  # type: ignore[arg-type]
        view=FakeView(), events=events, metrics=metrics,  # type: ignore[arg-type]
        seen=lambda tomb: (watched.get(tomb.name),),
    )
    assert await sweeper.sweep()
    notes = {s["name"]: (s["status"], s["note"]) for s in sweeper.snapshot()}
    assert notes["gone"] == (TOMBSTONE_DELETED, "")
    assert notes["theirs"][0] == TOMBSTONE_SKIPPED and "lacks" in notes["theirs"][1]
    # Labelled and no replacement to wait for: the DELETE is still issued.
    assert notes["ours"] == (TOMBSTONE_DELETED, "deleted obsolete object")
    assert client.deleted == ["ours"]


async def test_a_tombstone_whose_watch_has_not_listed_is_read() -> None:
    # No synced watch covers it (not listed yet): the sweep reads it.
    w = World(objects={"old-crb": live("old-crb")}, seen=lambda tomb: None)
    w.reconciled.add("new-asset")
    w.book.set_asset_objects("new-asset", [])
    await w.sweeper.sweep()
    assert w.status() == TOMBSTONE_KEPT  # it was found (by a GET) and kept
