"""Watch semantics: selectors, bookmarks, timeouts, 410, sabotage (kubesim and a real server)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest

from kubesim.controls import Controls
from tests.support.cluster import Cluster
from tests.support.wait import eventually_sync

COMPACTING = pytest.mark.fresh_server("needs etcd compaction", compaction=True)


@pytest.fixture
def base(cluster: Cluster) -> str:
    """The configmaps of a namespace of the test's own."""
    return f"/api/v1/namespaces/{cluster.new_namespace()}/configmaps"


class Stream:
    """A watch read in a thread; events collect in ``events``."""

    def __init__(self, cluster: Cluster, query: dict[str, str], path: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.ended = threading.Event()
        self.error: BaseException | None = None
        url = cluster.url + path + "?" + urllib.parse.urlencode({"watch": "true", **query})
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {cluster.token}"})
        self._resp = urllib.request.urlopen(req, timeout=30, context=cluster._tls)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self._resp:
                if line.strip():
                    self.events.append(json.loads(line))
        except Exception as exc:
            self.error = exc
        finally:
            self.ended.set()

    def types(self) -> list[tuple[str, str]]:
        return [(e["type"], e["object"]["metadata"].get("name", "")) for e in self.events
                if e["type"] != "BOOKMARK"]


def _apply(cluster: Cluster, base: str, name: str, labels: dict[str, str],
           data: dict[str, str]) -> str:
    status, body = cluster.api(
        "PATCH", f"{base}/{name}", content_type="application/apply-patch+yaml",
        body={"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": name, "labels": labels}, "data": data},
        query={"fieldManager": "t", "force": "true"})
    assert status in (200, 201), body
    return str(body["metadata"]["resourceVersion"])


def _rv(cluster: Cluster, base: str) -> str:
    return str(cluster.api("GET", base)[1]["metadata"]["resourceVersion"])


def test_selector_watch_sees_objects_leave_as_deleted(cluster: Cluster, base: str) -> None:
    if cluster.sim is not None:
        cluster.sim.controls.bookmark_interval = 0.1
    # A real server bookmarks about a second before the timeout, once versions moved on.
    stream = Stream(cluster, {"labelSelector": "watched=yes", "resourceVersion": _rv(cluster, base),
                              "allowWatchBookmarks": "true", "timeoutSeconds": "4"}, base)
    _apply(cluster, base, "w1", {"watched": "yes"}, {"x": "1"})
    _apply(cluster, base, "w1", {"watched": "yes"}, {"x": "2"})
    _apply(cluster, base, "other", {"watched": "no"}, {"x": "1"})
    last = _apply(cluster, base, "w1", {"watched": "no"}, {"x": "2"})
    assert stream.ended.wait(10)
    assert stream.types() == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    gone = stream.events[[e["type"] for e in stream.events].index("DELETED")]["object"]
    assert gone["metadata"]["labels"] == {"watched": "yes"}
    assert gone["metadata"]["resourceVersion"] == last
    marks = [e for e in stream.events if e["type"] == "BOOKMARK"]
    assert marks and int(marks[-1]["object"]["metadata"]["resourceVersion"]) >= int(last)


def test_watch_without_resource_version_starts_with_the_current_objects(
        cluster: Cluster, base: str) -> None:
    _apply(cluster, base, "a", {}, {})
    _apply(cluster, base, "b", {}, {})
    stream = Stream(cluster, {"timeoutSeconds": "1"}, base)
    assert stream.ended.wait(10)
    assert stream.types() == [("ADDED", "a"), ("ADDED", "b")]


def _expired(status: dict[str, Any], rv: str) -> bool:
    """A 410 as a real server words it: from its watch cache, or from etcd itself."""
    message = str(status.get("message"))
    return (status.get("code"), status.get("reason")) == (410, "Expired") and (
        message.startswith(f"too old resource version: {rv} (")
        or message == "The resourceVersion for the provided watch is too old.")


@COMPACTING
def test_compacted_resource_version_answers_410(cluster: Cluster, faults: Controls,
                                                base: str) -> None:
    old = _apply(cluster, base, "a", {}, {"v": "1"})
    _apply(cluster, base, "a", {}, {"v": "2"})
    replay = Stream(cluster, {"resourceVersion": old, "timeoutSeconds": "1"}, base)
    assert replay.ended.wait(10)
    assert replay.types() == [("MODIFIED", "a")]
    faults.compact()
    if cluster.sim is not None:
        sim = cluster.sim
        eventually_sync(lambda: sim.call(lambda: sim.state.store.compacted_rv) > 0,
                        what="compacted")
    expired = Stream(cluster, {"resourceVersion": old, "timeoutSeconds": "1"}, base)
    assert expired.ended.wait(10)
    assert len(expired.events) == 1 and expired.events[0]["type"] == "ERROR"
    assert _expired(expired.events[0]["object"], old), expired.events


@COMPACTING
def test_compaction_window_expires_old_versions(cluster: Cluster, faults: Controls,
                                                base: str) -> None:
    if cluster.sim is not None:
        faults.set_compaction_window(3)  # kubesim keeps the last three changes
    first = _apply(cluster, base, "a", {}, {"v": "0"})
    for i in range(1, 6):
        _apply(cluster, base, "a", {}, {"v": str(i)})
    if cluster.sim is None:
        faults.compact()  # a real server compacts by time
    expired = Stream(cluster, {"resourceVersion": first, "timeoutSeconds": "1"}, base)
    assert expired.ended.wait(10)
    assert expired.events[0]["type"] == "ERROR"
    assert _expired(expired.events[0]["object"], first), expired.events


def test_dropped_and_silent_streams(cluster: Cluster, faults: Controls, base: str) -> None:
    # A watch is registered (server or proxy) before its response headers go out.
    stream = Stream(cluster, {"resourceVersion": _rv(cluster, base)}, base)
    faults.drop_watches()
    assert stream.ended.wait(10)
    quiet = Stream(cluster, {"resourceVersion": _rv(cluster, base), "timeoutSeconds": "1",
                             "allowWatchBookmarks": "true"}, base)
    faults.silence_watches()
    time.sleep(0.05)  # let the silence reach the server loop before writing
    _apply(cluster, base, "unseen", {}, {})
    # A silent stream neither sends nor ends at its timeout: the client must give up.
    assert not quiet.ended.wait(1.5)
    assert quiet.types() == []
    faults.drop_watches()
    assert quiet.ended.wait(10)
    faults.silence_watches(False)


def test_table_watch_for_kubectl(cluster: Cluster, base: str) -> None:
    rv = _rv(cluster, base)
    url = cluster.url + base + "?" + urllib.parse.urlencode(
        {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"})
    req = urllib.request.Request(url, headers={
        "Authorization": f"Bearer {cluster.token}",
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    _apply(cluster, base, "tbl", {}, {"a": "1", "b": "2"})
    with urllib.request.urlopen(req, timeout=10, context=cluster._tls) as resp:
        events = [json.loads(line) for line in resp if line.strip()]
    table = events[0]["object"]
    assert table["kind"] == "Table"
    assert table["rows"][0]["cells"][:2] == ["tbl", 2]


def test_deleting_a_crd_ends_its_watches_and_objects(cluster: Cluster) -> None:
    group = f"g{uuid.uuid4().hex[:8]}.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"things.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"kind": "Thing", "plural": "things"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                        "openAPIV3Schema": {"type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True}}}]}}
    status, _ = cluster.api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                            body=crd)
    assert status == 201
    path = f"/apis/{group}/v1/namespaces/default/things"
    eventually_sync(lambda: cluster.api("GET", path)[0] == 200, what="things served")
    body = {"apiVersion": f"{group}/v1", "kind": "Thing", "metadata": {"name": "t1"}}
    eventually_sync(lambda: cluster.api("POST", path, body=body)[0] == 201, what="t1 created")
    stream = Stream(cluster, {"resourceVersion": "0"}, path)
    eventually_sync(lambda: stream.types() == [("ADDED", "t1")], what="initial ADDED")
    cluster.delete_crds(f"things.{group}")
    assert stream.ended.wait(10)
    assert stream.types() == [("ADDED", "t1"), ("DELETED", "t1")]
    assert cluster.api("GET", path)[0] == 404
