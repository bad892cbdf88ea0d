"""flips.contest() on managedFields written by the server the suite runs against.

The unit tests copy the shapes a v1.36 kube-apiserver writes; these run the
same writes (merge patch, forced apply, PUT, removal, the installed kubectl)
against the test cluster, so kubesim and a real server are both held to them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from autopilot.antithrash import flips
from tests.integration.conftest import render_offline
from tests.support.platform import Platform

US = "virt-platform-autopilot"
NS = "flips"
CM = f"/api/v1/namespaces/{NS}/configmaps/cm"
SVC = f"/api/v1/namespaces/{NS}/services/svc"
DESIRED_CM = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "cm", "namespace": NS, "labels": {"l": "1"}},
              "data": {"a": "1", "b": "2", "c": "3"}}


class Writes:
    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        status, _ = cluster.api("POST", "/api/v1/namespaces", body={
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        assert status in (201, 409)

    def apply(self, path: str, body: dict[str, Any], *, manager: str = US,
              dry_run: bool = False) -> dict[str, Any]:
        query = {"fieldManager": manager, "force": "true", "dryRun": "All" if dry_run else None}
        status, obj = self.cluster.api("PATCH", path, body=body, query=query,
                                       content_type="application/apply-patch+yaml")
        assert status in (200, 201), (status, obj)
        return dict(obj)

    def merge(self, path: str, body: dict[str, Any], *, manager: str) -> None:
        status, obj = self.cluster.api("PATCH", path, body=body, query={"fieldManager": manager},
                                       content_type="application/merge-patch+json")
        assert status == 200, (status, obj)

    def get(self, path: str) -> dict[str, Any]:
        status, obj = self.cluster.api("GET", path)
        assert status == 200, (status, obj)
        return dict(obj)

    def contest(self, path: str, desired: dict[str, Any], *,
                previous: frozenset[flips.FieldPath] | None = None) -> flips.Contest | None:
        dry = self.apply(path, desired, dry_run=True)
        return flips.contest(live=self.get(path), dry_run=dry, manager=US, previous=previous)


@pytest.fixture
def writes(cluster: Any) -> Writes:
    return Writes(cluster)


def writers_of(found: flips.Contest | None) -> list[tuple[str, str, tuple[str, ...], str]]:
    assert found is not None
    return [(w.manager, w.operation, w.fields, w.evidence) for w in found.writers]


def test_patch_forced_apply_and_put_are_named(writes: Writes) -> None:
    writes.apply(CM, DESIRED_CM)
    assert writes.contest(CM, DESIRED_CM) is None

    writes.merge(CM, {"data": {"a": "X"}}, manager="kubectl-patch")
    assert writers_of(writes.contest(CM, DESIRED_CM)) == [
        ("kubectl-patch", "Update", ("data.a",), flips.OWNS)]

    writes.apply(CM, DESIRED_CM)
    writes.apply(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "cm", "namespace": NS}, "data": {"a": "Z"}},
                 manager="argocd-controller")
    assert writers_of(writes.contest(CM, DESIRED_CM)) == [
        ("argocd-controller", "Apply", ("data.a",), flips.OWNS)]

    writes.apply(CM, DESIRED_CM)
    obj = writes.get(CM)
    obj["data"]["b"] = "from-put"
    status, body = writes.cluster.api("PUT", CM, body=obj, query={"fieldManager": "cron-job"})
    assert status == 200, body
    assert writers_of(writes.contest(CM, DESIRED_CM)) == [
        ("cron-job", "Update", ("data.b",), flips.OWNS)]


def test_a_removal_is_seen_only_when_we_know_what_we_owned(writes: Writes) -> None:
    ours = flips.owned_by(writes.apply(CM, DESIRED_CM), US)
    writes.merge(CM, {"data": {"c": None}}, manager="gitops")
    live = writes.get(CM)
    # The remover leaves no entry: managedFields cannot name it.
    assert [e["manager"] for e in live["metadata"]["managedFields"]] == [US]
    assert writes.contest(CM, DESIRED_CM) is None
    assert writers_of(writes.contest(CM, DESIRED_CM, previous=ours)) == [
        ("", "", ("data.c",), flips.UNKNOWN)]


def test_our_desired_state_changing_is_not_a_flip(writes: Writes) -> None:
    ours = flips.owned_by(writes.apply(CM, DESIRED_CM), US)
    changed = json.loads(json.dumps(DESIRED_CM))
    changed["data"]["a"] = "new-golden-value"
    changed["data"]["d"] = "new-field"
    assert writes.contest(CM, changed, previous=ours) is None


def test_kubectl_patch_on_a_service_selector(writes: Writes, cluster: Any) -> None:
    desired = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "svc", "namespace": NS,
                            "labels": {"platform.kubevirt.io/managed-by": US}},
               "spec": {"selector": {"app": "golden"},
                        "ports": [{"name": "metrics", "port": 8080, "protocol": "TCP",
                                   "targetPort": 8080}]}}
    writes.apply(SVC, desired)
    cluster.kubectl("patch", "service", "svc", "-n", NS, "--type", "merge",
                    "-p", json.dumps({"spec": {"selector": {"app": "theirs"}}}))
    assert writers_of(writes.contest(SVC, desired)) == [
        ("kubectl-patch", "Update", ("spec.selector",), flips.OWNS)]


def test_kubectl_patch_inside_a_preserved_unknown_field(writes: Writes, cluster: Any) -> None:
    # The report's fight: the ignition version of a MachineConfig (spec.config keeps
    # unknown fields). Our emptied "ignition" node stays ours as a bare leaf.
    Platform(cluster).install("MachineConfig")
    mc = next(o for o in render_offline({"platform.kubevirt.io/autopilot": "true"})
              if o["kind"] == "MachineConfig")
    name = mc["metadata"]["name"]
    path = f"/apis/machineconfiguration.openshift.io/v1/machineconfigs/{name}"
    ours = flips.owned_by(writes.apply(path, mc), US)
    cluster.kubectl("patch", "machineconfig", name, "--type", "merge", "-p",
                    json.dumps({"spec": {"config": {"ignition": {"version": "2.9.0"}}}}))
    for previous in (None, ours):
        assert writers_of(writes.contest(path, mc, previous=previous)) == [
            ("kubectl-patch", "Update", ("spec.config.ignition.version",), flips.OWNS)]
