"""Streaming lists (watch-list) as kube-apiserver v1.36 serves and refuses them.

Every test runs in both worlds with the same expectations, the real server's
answers: what kubesim says must be what the real server says.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.support.cluster import Cluster

END = "k8s.io/initial-events-end"
STREAM = {"watch": "true", "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
          "allowWatchBookmarks": "true", "timeoutSeconds": "1"}


def _forbidden(field: str, detail: str) -> dict[str, str]:
    return {"reason": "FieldValueForbidden", "message": f"Forbidden: {detail}", "field": field}


NEEDS_NOT_OLDER_THAN = _forbidden(
    "resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to "
    "NotOlderThan")
REFUSED = [
    ("sendInitialEvents without resourceVersionMatch",
     {"watch": "true", "sendInitialEvents": "true", "allowWatchBookmarks": "true"},
     [NEEDS_NOT_OLDER_THAN]),
    ("resourceVersionMatch on a plain watch",
     {"watch": "true", "resourceVersionMatch": "NotOlderThan", "allowWatchBookmarks": "true"},
     [_forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless "
                 "sendInitialEvents is provided")]),
    ("resourceVersionMatch=Exact on a streaming list",
     {**STREAM, "resourceVersionMatch": "Exact"},
     [NEEDS_NOT_OLDER_THAN,
      {"reason": "FieldValueNotSupported", "field": "resourceVersionMatch",
       "message": 'Unsupported value: "Exact": supported values: "NotOlderThan"'}]),
    ("sendInitialEvents on a list",
     {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan"},
     [_forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless "
                 "resourceVersion is provided"),
      _forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list")]),
]


@pytest.mark.real_ok
@pytest.mark.parametrize(("query", "causes"), [(q, c) for _, q, c in REFUSED],
                         ids=[what for what, _, _ in REFUSED])
def test_options_the_server_refuses(cluster: Cluster, query: dict[str, str],
                                    causes: list[dict[str, str]]) -> None:
    status, body = cluster.api("GET", "/api/v1/namespaces/default/configmaps", query=query)
    assert status == 422, body
    assert body["reason"] == "Invalid"
    assert body["details"] == {"group": "meta.k8s.io", "kind": "ListOptions", "causes": causes}
    listed = [f"{c['field']}: {c['message']}" for c in causes]
    joined = listed[0] if len(listed) == 1 else "[" + ", ".join(listed) + "]"
    assert body["message"] == f'ListOptions.meta.k8s.io "" is invalid: {joined}'


def _events(text: Any) -> list[dict[str, Any]]:
    """The events of a finished watch's body (JSON lines; one event decodes whole)."""
    if isinstance(text, dict):
        return [text] if text else []
    return [json.loads(line) for line in str(text).splitlines() if line.strip()]


def _watched(cluster: Cluster, ns: str, query: dict[str, str],
             accept: str = "application/json") -> list[dict[str, Any]]:
    """The events a watch of the namespace's ConfigMaps sends until it times out."""
    status, text = cluster.api("GET", f"/api/v1/namespaces/{ns}/configmaps", query=query,
                               accept=accept)
    assert status == 200, text
    return _events(text)


def _added(events: list[dict[str, Any]]) -> list[str]:
    """The names the ADDED events carry, sorted."""
    return sorted(e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED")


def _marks_the_end(event: dict[str, Any]) -> bool:
    """Whether the event carries the initial-events-end annotation."""
    return (event["object"]["metadata"].get("annotations") or {}).get(END) == "true"


def _seeded(cluster: Cluster) -> tuple[str, dict[str, str]]:
    """A namespace with three ConfigMaps, two labelled ``pick=yes``: name -> rv of those."""
    ns = cluster.new_namespace("wl")
    picked = {}
    for name, pick in (("a", "yes"), ("b", "no"), ("c", "yes")):
        status, obj = cluster.api("POST", f"/api/v1/namespaces/{ns}/configmaps", body={
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"pick": pick}}, "data": {"k": "v"}})
        assert status == 201, obj
        if pick == "yes":
            picked[name] = obj["metadata"]["resourceVersion"]
    return ns, picked


@pytest.mark.real_ok
def test_a_streaming_list_sends_the_selected_state_then_its_end(cluster: Cluster) -> None:
    ns, picked = _seeded(cluster)
    events = _watched(cluster, ns, {**STREAM, "labelSelector": "pick=yes"})
    ends = [i for i, e in enumerate(events) if e["type"] == "BOOKMARK" and _marks_the_end(e)]
    assert len(ends) == 1, events
    state = events[:ends[0]]
    assert {e["object"]["metadata"]["name"]: e["object"]["metadata"]["resourceVersion"]
            for e in state if e["type"] == "ADDED"} == picked
    assert all(e["type"] in ("ADDED", "BOOKMARK") for e in state), state
    end = events[ends[0]]["object"]
    assert end["kind"] == "ConfigMap" and end["apiVersion"] == "v1", end
    assert int(end["metadata"]["resourceVersion"]) >= max(int(rv) for rv in picked.values())


@pytest.mark.real_ok
def test_without_bookmarks_the_state_comes_but_never_its_end(cluster: Cluster) -> None:
    ns, picked = _seeded(cluster)
    query = {k: v for k, v in STREAM.items() if k != "allowWatchBookmarks"}
    events = _watched(cluster, ns, {**query, "labelSelector": "pick=yes"})
    assert _added(events) == sorted(picked), events
    assert {e["type"] for e in events} == {"ADDED"}


@pytest.mark.real_ok
def test_a_watch_without_resource_version_ends_its_synthetic_state_too(
    cluster: Cluster
) -> None:
    """v1.36 marks the end of a plain watch's synthetic ADDED events when bookmarks are
    allowed (only then: without them nothing tells where they end)."""
    ns, picked = _seeded(cluster)
    for bookmarks, ends in (("true", 1), ("false", 0)):
        events = _watched(cluster, ns, {"watch": "true", "allowWatchBookmarks": bookmarks,
                                        "timeoutSeconds": "1", "labelSelector": "pick=yes"})
        assert _added(events) == sorted(picked)
        marked = [e for e in events if _marks_the_end(e)]
        assert len(marked) == ends, events
        if ends:
            assert marked[0] is next(e for e in events if e["type"] != "ADDED"), events


@pytest.mark.real_ok
def test_send_initial_events_false_starts_from_now(cluster: Cluster) -> None:
    ns, _ = _seeded(cluster)
    events = _watched(cluster, ns, {**STREAM, "sendInitialEvents": "false"})
    assert [e for e in events if e["type"] != "BOOKMARK"] == []


@pytest.mark.real_ok
def test_metadata_only_streaming_list_ends_with_a_metadata_bookmark(cluster: Cluster) -> None:
    ns, picked = _seeded(cluster)
    events = _watched(cluster, ns, {**STREAM, "labelSelector": "pick=yes"},
                      accept="application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")
    kinds = {(e["object"]["kind"], e["object"]["apiVersion"]) for e in events}
    assert kinds == {("PartialObjectMetadata", "meta.k8s.io/v1")}, events
    assert _added(events) == sorted(picked)
    assert any(_marks_the_end(e) for e in events if e["type"] == "BOOKMARK"), events


@pytest.mark.real_ok
@pytest.mark.parametrize("mode", ["refused", "ignored"])
def test_servers_without_streaming_lists_as_the_faults_act_them(
    cluster: Cluster, faults: Any, mode: str
) -> None:
    """The controls play a server with the WatchList gate off (422) or one that knows
    neither parameter (a plain watch: the objects as synthetic ADDED and no end)."""
    ns, picked = _seeded(cluster)
    faults.set_streaming_lists(mode)
    status, body = cluster.api("GET", f"/api/v1/namespaces/{ns}/configmaps",
                               query={**STREAM, "labelSelector": "pick=yes"})
    if mode == "refused":
        assert status == 422, body
        assert body["details"]["causes"] == [_forbidden(
            "sendInitialEvents", "sendInitialEvents is forbidden for watch unless the "
            "WatchList feature gate is enabled")]
        return
    assert status == 200, body
    events = _events(body)
    assert _added(events) == sorted(picked)
    assert not any((e["object"]["metadata"].get("annotations") or {}).get(END)
                   for e in events), events
    # A plain watch is served as before whatever the mode.
    _watched(cluster, ns, {"watch": "true", "timeoutSeconds": "1",
                           "labelSelector": f"x-{uuid.uuid4().hex[:6]}=y"})
