"""Contract: kubesim answers like the recorded real kube-apiserver v1.36.

Each recording is replayed against a fresh kubesim after silently replaying the
recordings made before it on the real server (they built the state it starts
from), plus the few setup writes the recorder made without recording them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubesim import KubeSim
from tests.support.cluster import FIXTURES, require_shared
from tests.support.replay import (
    NOBODY_TOKEN,
    RvMap,
    load,
    new_sim,
    normalise,
    normalise_table,
    open_watch,
    read_stream,
    request,
)
from tests.support.wait import eventually_sync

# Recorded order on the real server (each scenario starts from the state the previous left).
ORDER = [
    "ssa-create-then-noop", "ssa-conflict-dryrun-force", "ssa-remove-field",
    "ssa-shared-ownership", "ssa-errors", "errors", "list-selectors-pagination",
    "list-metadata-and-table", "watch-label-selector", "ssa-list-map-service-ports",
    "ssa-atomic-list-clusterrole", "ssa-defaults-daemonset", "lease-optimistic-concurrency",
    "crd-lifecycle", "cluster-scoped-apply", "events-v1", "watch-too-old",
]
DISCOVERY = ["discovery-legacy", "discovery-aggregated"]


def _apply(sim: KubeSim, url: str, path: str, body: dict[str, Any], manager: str) -> None:
    step = {"request": {"method": "PATCH", "path": path,
                        "query": {"fieldManager": manager, "force": "true"},
                        "headers": {"Content-Type": "application/apply-patch+yaml"},
                        "body": body}}
    status, out, _ = request(url, step, token=sim.token, rvs=RvMap())
    assert status in (200, 201), (path, status, out)


def _namespace(sim: KubeSim, url: str, name: str) -> None:
    _apply(sim, url, f"/api/v1/namespaces/{name}",
           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, "setup")


def _pages(sim: KubeSim, url: str) -> None:
    for i in range(5):
        _apply(sim, url, f"/api/v1/namespaces/fixtures/configmaps/page-{i}",
               {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"page-{i}", "namespace": "fixtures",
                             "labels": {"tier": "a" if i % 2 else "b"}},
                "data": {"i": str(i)}}, "m")


def _machineconfig_crd(sim: KubeSim, url: str) -> None:
    from kubesim.loader import load_crds

    crd = load_crds([FIXTURES.parent / "crds" / "openshift" / "machineconfig-crd.yaml"])[0]
    name = crd["metadata"]["name"]
    _apply(sim, url, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}", crd,
           "setup")
    _wait_established(sim, name)


def _wait_established(sim: KubeSim, name: str) -> None:
    def served() -> bool:
        return any(t.crd_name == name for t in sim.call(sim.state.registry.all))

    eventually_sync(served, timeout=10, what=f"CRD {name} served")


SETUP: dict[str, Callable[[KubeSim, str], None]] = {
    "ssa-create-then-noop": lambda sim, url: _namespace(sim, url, "fixtures"),
    "list-selectors-pagination": _pages,
    "cluster-scoped-apply": _machineconfig_crd,
    "events-v1": lambda sim, url: _namespace(sim, url, "fixtures-e"),
    "watch-too-old": lambda sim, url: sim.controls.compact(),
}

# The writes the recorder made while the watch of watch-label-selector was open.
WATCH_ACTIONS = [
    ("apply", "w1", {"watched": "yes"}, {"x": "1"}),
    ("apply", "w1", {"watched": "yes"}, {"x": "2"}),
    ("apply", "w1", {"watched": "no"}, {"x": "2"}),
    ("apply", "w2", {"watched": "yes"}, {"x": "1"}),
    ("delete", "w2", {}, {}),
]


def _watch_actions(sim: KubeSim, url: str, *, wait: bool = True) -> None:
    if wait:
        eventually_sync(lambda: sim.call(lambda: len(sim.state.store.watchers())) > 0,
                        what="watch registered")
    for action, name, labels, data in WATCH_ACTIONS:
        path = f"/api/v1/namespaces/fixtures/configmaps/{name}"
        if action == "apply":
            _apply(sim, url, path, {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": name, "labels": labels},
                                    "data": data}, "m")
        else:
            step = {"request": {"method": "DELETE", "path": path}}
            status, _, _ = request(url, step, token=sim.token, rvs=RvMap())
            assert status == 200


def _token(sim: KubeSim, step: dict[str, Any]) -> str:
    # The recorder sent its one forbidden request as a user without permissions.
    return NOBODY_TOKEN if step["response"]["status"] == 403 else sim.token


def _ungenerate(body: Any, prefix: str) -> Any:
    """Replace names generated from ``prefix`` (random suffixes differ between servers)."""
    text = re.sub(re.escape(prefix) + r"[a-z0-9]{5}", "<generated>", json.dumps(body))
    return json.loads(text)


def _compare_body(name: str, i: int, step: dict[str, Any], got: Any) -> None:
    want = step["response"]["body"]
    sent = step["request"].get("body")
    prefix = ((sent.get("metadata") or {}).get("generateName") if isinstance(sent, dict)
              else None)
    if prefix:
        want, got = _ungenerate(want, prefix), _ungenerate(got, prefix)
    where = f"{name} step {i} ({step['request']['method']} {step['request']['path']})"
    if isinstance(want, dict) and want.get("kind") == "Table":
        assert normalise_table(got) == normalise_table(want), where
        return
    if isinstance(want, dict) and want.get("kind") == "Status":
        assert got.get("reason") == want.get("reason"), where
        causes = lambda b: [(c.get("reason"), c.get("field")) for c in  # noqa: E731
                            (b.get("details") or {}).get("causes") or []]
        assert causes(got) == causes(want), where
        assert normalise(got) == normalise(want), where
        return
    assert normalise(got) == normalise(want), where


def _replay(sim: KubeSim, url: str, name: str, rvs: RvMap, *, check: bool) -> None:
    setup = SETUP.get(name)
    if setup is not None:
        setup(sim, url)
    recording = load(FIXTURES / f"{name}.json")
    for i, step in enumerate(recording["steps"]):
        where = f"{name} step {i}"
        if "stream" in step and not check:
            # Only the writes made during the watch matter for the scenarios after it.
            if name == "watch-label-selector":
                _watch_actions(sim, url, wait=False)
            continue
        if "stream" in step:
            thread, out = open_watch(url, step, token=_token(sim, step), rvs=rvs)
            if name == "watch-label-selector":
                _watch_actions(sim, url)
            thread.join(30)
            assert out, f"{where}: watch did not end"
            status, raw = out[0]
            if check:
                assert status == step["response"]["status"], where
                _compare_stream(where, step["stream"], read_stream(raw))
            continue
        status, body, _ = request(url, step, token=_token(sim, step), rvs=rvs)
        if check:
            assert status == step["response"]["status"], (where, body)
            _compare_body(name, i, step, body)
        rvs.learn(_meta_of(step["response"]["body"], "resourceVersion"),
                  _meta_of(body, "resourceVersion"), where)
        rvs.learn_uid(_meta_of(step["response"]["body"], "uid"), _meta_of(body, "uid"))
        if step["request"]["method"] == "POST" and "customresourcedefinitions" in \
                step["request"]["path"] and status == 201:
            _wait_established(sim, body["metadata"]["name"])


def _meta_of(body: Any, key: str) -> str | None:
    """``metadata.<key>`` of an answer that is one object (not a Status, Table or list)."""
    if isinstance(body, dict) and body.get("kind") not in ("Status", "Table") and \
            not str(body.get("kind", "")).endswith("List"):
        return str((body.get("metadata") or {}).get(key) or "") or None
    return None


def _compare_stream(where: str, want: list[dict[str, Any]], got: list[dict[str, Any]]) -> None:
    def events(stream: list[dict[str, Any]]) -> list[tuple[str, Any]]:
        out = []
        for ev in stream:
            if ev["type"] == "BOOKMARK":
                continue
            obj = ev["object"]
            if ev["type"] == "ERROR":
                out.append(("ERROR", (obj.get("code"), obj.get("reason"))))
            else:
                meta = obj["metadata"]
                out.append((ev["type"], (meta["name"], meta.get("labels"), obj.get("data"))))
        return out

    assert events(got) == events(want), where
    if any(ev["type"] == "BOOKMARK" for ev in want):
        marks = [ev for ev in got if ev["type"] == "BOOKMARK"]
        assert marks, f"{where}: no BOOKMARK"
        last = max((int(ev["object"]["metadata"]["resourceVersion"]) for ev in got
                    if ev["type"] != "BOOKMARK"), default=0)
        assert int(marks[-1]["object"]["metadata"]["resourceVersion"]) >= last, where
    for ev in got:
        if ev["type"] == "ERROR":
            assert str(ev["object"]["message"]).startswith("too old resource version: "), where


@pytest.mark.parametrize("name", ORDER)
def test_recording(name: str) -> None:
    require_shared()
    sim, url = new_sim()
    try:
        sim.controls.bookmark_interval = 1.0
        rvs = RvMap()
        for earlier in ORDER[:ORDER.index(name)]:
            _replay(sim, url, earlier, rvs, check=False)
        _replay(sim, url, name, rvs, check=True)
    finally:
        sim.stop()


def test_every_recording_is_replayed() -> None:
    require_shared()
    recorded = {p.stem for p in Path(FIXTURES).glob("*.json")}
    assert recorded == set(ORDER) | set(DISCOVERY)


def _served(sim: KubeSim) -> set[tuple[str, str, str]]:
    return {(t.group, v, t.plural) for t in sim.state.registry.all() for v in t.versions}


@pytest.mark.parametrize("name", DISCOVERY)
def test_discovery(name: str) -> None:
    """Every resource kubesim serves is described as the real server describes it."""
    require_shared()
    sim, url = new_sim()
    try:
        recording = load(FIXTURES / f"{name}.json")
        for i, step in enumerate(recording["steps"]):
            status, body, _ = request(url, step, token=sim.token, rvs=RvMap())
            where = f"{name} step {i} {step['request']['path']}"
            assert status == step["response"]["status"], where
            want = step["response"]["body"]
            if step["request"]["path"] == "/version":
                assert set(want) <= set(body), where
            elif want.get("kind") == "APIResourceList":
                _compare_resource_lists(where, want, body)
            elif want.get("kind") == "APIGroupDiscoveryList":
                _compare_aggregated(where, want, body, sim)
            elif want.get("kind") == "APIGroupList":
                real = {g["name"]: g["preferredVersion"] for g in want["groups"]}
                for g in body["groups"]:
                    assert real.get(g["name"]) == g["preferredVersion"], (where, g["name"])
            else:
                assert body.get("kind") == want.get("kind"), where
            ctype = step["response"]["headers"]["Content-Type"]
            assert _content_type(url, step, sim.token) == ctype, where
    finally:
        sim.stop()


def _content_type(url: str, step: dict[str, Any], token: str) -> str:
    import urllib.request

    headers = {"Authorization": f"Bearer {token}", **(step["request"].get("headers") or {})}
    req = urllib.request.Request(url + step["request"]["path"], headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(resp.headers["Content-Type"])


def _entry(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["name"], r["kind"], r["namespaced"], sorted(r["verbs"]),
            sorted(r.get("shortNames") or []), r.get("singularName"))


def _compare_resource_lists(where: str, want: dict[str, Any], got: dict[str, Any]) -> None:
    assert got["groupVersion"] == want["groupVersion"], where
    assert ("apiVersion" in got) == ("apiVersion" in want), where
    real = {r["name"]: _entry(r) for r in want["resources"]}
    for r in got["resources"]:
        assert r["name"] in real, (where, r["name"])
        assert _entry(r) == real[r["name"]], where


def _agg(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["resource"], r["responseKind"], r["scope"], r.get("singularResource"),
            sorted(r["verbs"]), sorted(r.get("shortNames") or []), r.get("categories"))


def _subresources(r: dict[str, Any]) -> set[tuple[str, tuple[str, ...]]]:
    return {(s["subresource"], tuple(sorted(s["verbs"]))) for s in r.get("subresources") or []}


def _compare_aggregated(where: str, want: dict[str, Any], got: dict[str, Any],
                        sim: KubeSim) -> None:
    real: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in want["items"]:
        for v in item["versions"]:
            for r in v["resources"]:
                real[(item["metadata"].get("name", ""), v["version"], r["resource"])] = r
    seen = 0
    for item in got["items"]:
        for v in item["versions"]:
            assert v.get("freshness") == "Current", where
            for r in v["resources"]:
                key = (item["metadata"].get("name", ""), v["version"], r["resource"])
                assert key in real, (where, key)
                assert _agg(r) == _agg(real[key]), (where, key)
                assert _subresources(r) <= _subresources(real[key]), (where, key)
                seen += 1
    assert seen, where
    json.dumps(got)
