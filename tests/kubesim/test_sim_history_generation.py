"""Two things kubesim once got wrong, checked in both worlds against the real server's answers.

* The watch history is bounded in time: the server compacts on its own clock, and a
  watch from a version compacted away is answered 410 Gone (the recording
  ``watch-too-old``), so clients relist without being told to.
* ``metadata.generation`` rises by one with each change of what it tracks
  (everything but metadata, and status when it is a subresource), for custom
  resources and every built-in kind that keeps one; kinds without it never show it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from kubesim.controls import Controls
from kubesim.server import COMPACTION_INTERVAL_S, KubeSim
from tests.kubesim.test_sim_watch import COMPACTING, Stream, _apply, _expired
from tests.support.cluster import Cluster
from tests.support.platform import Platform
from tests.support.wait import eventually_sync

MC = "/apis/machineconfiguration.openshift.io/v1/machineconfigs"


@COMPACTING
def test_old_versions_expire_by_time_untold(cluster: Cluster, faults: Controls) -> None:
    """Nobody asks for a compaction: the server compacts on its own clock."""
    if cluster.sim is not None:
        # kube-apiserver's --etcd-compaction-interval, as the compacting real server uses it.
        faults.set_compaction_interval(1.0)
    base = f"/api/v1/namespaces/{cluster.new_namespace()}/configmaps"
    old = _apply(cluster, base, "a", {}, {"v": "1"})
    _apply(cluster, base, "a", {}, {"v": "2"})

    def expired() -> bool:
        stream = Stream(cluster, {"resourceVersion": old, "timeoutSeconds": "1"}, base)
        assert stream.ended.wait(10)
        if [e["type"] for e in stream.events] == ["MODIFIED"]:
            return False  # still within the history
        assert [e["type"] for e in stream.events] == ["ERROR"], stream.events
        return _expired(stream.events[0]["object"], old)

    eventually_sync(expired, timeout=20, interval=0.5, what="the old version compacted away")


def test_kubesim_keeps_five_minutes_of_history_by_default() -> None:
    # kube-apiserver's default --etcd-compaction-interval: relists happen as rarely.
    assert KubeSim().compaction_interval == COMPACTION_INTERVAL_S == 300.0


def _patch(cluster: Cluster, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, out = cluster.api("PATCH", path, body=body,
                              content_type="application/merge-patch+json")
    assert status == 200, out
    return dict(out)


@pytest.mark.real_ok
def test_a_custom_resource_generation_follows_its_spec(cluster: Cluster) -> None:
    Platform(cluster).install("MachineConfig")
    name = f"gen-{uuid.uuid4().hex[:8]}"
    status, created = cluster.api("POST", MC, body={
        "apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfig",
        "metadata": {"name": name}, "spec": {"kernelArguments": ["a=1"]}})
    assert status == 201, created
    try:
        assert created["metadata"]["generation"] == 1
        generations = [_patch(cluster, f"{MC}/{name}", {"spec": {"kernelArguments": [arg]}})
                       ["metadata"]["generation"] for arg in ("a=2", "a=3")]
        assert generations == [2, 3]
        # Metadata is not what generation tracks; an unchanged spec is no change.
        labelled = _patch(cluster, f"{MC}/{name}", {"metadata": {"labels": {"x": "y"}}})
        same = _patch(cluster, f"{MC}/{name}", {"spec": {"kernelArguments": ["a=3"]}})
        assert [labelled["metadata"]["generation"], same["metadata"]["generation"]] == [3, 3]
        got = cluster.api("GET", f"{MC}/{name}")[1]
        assert got["metadata"]["generation"] == 3
    finally:
        cluster.api("DELETE", f"{MC}/{name}")


@pytest.mark.real_ok
def test_built_in_generations_follow_their_spec(cluster: Cluster) -> None:
    ns = cluster.new_namespace()
    ds = f"/apis/apps/v1/namespaces/{ns}/daemonsets/d"
    status, created = cluster.api("POST", f"/apis/apps/v1/namespaces/{ns}/daemonsets", body={
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}}})
    assert status == 201, created
    assert created["metadata"]["generation"] == 1
    template = "deprecated.daemonset.template.generation"
    assert created["metadata"]["annotations"][template] == "1"
    # The generation follows the spec; the template's generation only the pod template.
    bumped = _patch(cluster, ds, {"spec": {"minReadySeconds": 5}})
    assert (bumped["metadata"]["generation"], bumped["metadata"]["annotations"][template]) == (
        2, "1")
    relabelled = _patch(cluster, ds, {"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}})
    assert (relabelled["metadata"]["generation"],
            relabelled["metadata"]["annotations"][template]) == (3, "2")
    assert _patch(cluster, ds, {"metadata": {"labels": {"x": "y"}}})["metadata"][
        "generation"] == 3
    # A Service keeps no generation, however its spec changes.
    svc = f"/api/v1/namespaces/{ns}/services"
    status, made = cluster.api("POST", svc, body={
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}], "selector": {"app": "d"}}})
    assert status == 201, made
    changed = _patch(cluster, f"{svc}/s", {"spec": {"selector": {"app": "e"}}})
    assert "generation" not in made["metadata"] and "generation" not in changed["metadata"]
