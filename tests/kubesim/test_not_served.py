"""What a request to a resource nobody serves gets back, as a real kube-apiserver answers it.

A custom resource's path once its CRD is gone (even while other kinds of its group
are still served) gets a bare text ``404 page not found``, not a ``Status``; the
core API and the built-in groups answer a ``Status``. The controller sees exactly
this body when it applies a kind whose CRD was just removed.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.platform import Platform, crd_name
from tests.support.wait import eventually_sync

KUBELETCONFIGS = "/apis/machineconfiguration.openshift.io/v1/kubeletconfigs"
KUBELETCONFIG = {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "KubeletConfig",
                 "metadata": {"name": "x"}, "spec": {}}
NOT_FOUND = "the server could not find the requested resource"


@pytest.mark.real_ok
def test_a_removed_crds_resource_answers_404_page_not_found(cluster: Any) -> None:
    Platform(cluster).install("KubeletConfig", "MachineConfig")
    status, _ = cluster.api("PATCH", f"{KUBELETCONFIGS}/x", body=KUBELETCONFIG,
                            content_type="application/apply-patch+yaml",
                            query={"fieldManager": "tests"})
    assert status == 201
    cluster.delete_crds(crd_name("KubeletConfig"))
    # A real server stops serving the resource a moment after the CRD is gone.
    eventually_sync(lambda: cluster.api("GET", f"{KUBELETCONFIGS}/x")[1] == "404 page not found\n",
                    what="the removed resource no longer served")

    for method, path, body, ctype in (
        ("GET", f"{KUBELETCONFIGS}/x", None, "application/json"),
        ("GET", KUBELETCONFIGS, None, "application/json"),
        ("PATCH", f"{KUBELETCONFIGS}/x", KUBELETCONFIG, "application/apply-patch+yaml"),
        ("GET", "/apis/nosuch.example.com/v1/things/x", None, "application/json"),
    ):
        query = {"fieldManager": "tests"} if method == "PATCH" else None
        assert cluster.api(method, path, body=body, content_type=ctype, query=query) == (
            404, "404 page not found\n"), (method, path)
    # The group's other kind is still served.
    status, doc = cluster.api("GET", "/apis/machineconfiguration.openshift.io/v1")
    assert status == 200 and [r["name"] for r in doc["resources"]
                              if "/" not in r["name"]] == ["machineconfigs"], doc


@pytest.mark.real_ok
def test_unknown_resources_of_built_in_groups_answer_a_status(cluster: Any) -> None:
    for path in ("/api/v1/nosuchthings/x", "/apis/apps/v1/nosuchthings/x"):
        status, body = cluster.api("GET", path)
        assert status == 404 and isinstance(body, dict), (path, body)
        assert (body["kind"], body["reason"], body["message"]) == (
            "Status", "NotFound", NOT_FOUND), body


@pytest.mark.real_ok
def test_a_subresource_a_crd_does_not_define_answers_the_object_not_found(
    cluster: Any, tmp_path: Path
) -> None:
    """Built-in resources answer an unknown subresource as an unknown path; a custom
    resource's handler names the object, whether or not it exists."""
    group = f"s{uuid.uuid4().hex[:6]}.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"widgets.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                        "openAPIV3Schema": {"type": "object"}}}]}}
    path = tmp_path / "crd.json"
    path.write_text(json.dumps(crd))
    (name,) = cluster.install_crds(path)
    try:
        ns = cluster.new_namespace("sub")
        base = f"/apis/{group}/v1/namespaces/{ns}/widgets"
        status, body = cluster.api("POST", base, body={
            "apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"}})
        assert status == 201, body
        for method, widget, sub in (("GET", "w1", "status"), ("PATCH", "w1", "status"),
                                    ("GET", "w1", "scale"), ("GET", "w9", "status")):
            status, body = cluster.api(method, f"{base}/{widget}/{sub}",
                                       body={} if method == "PATCH" else None,
                                       content_type="application/merge-patch+json")
            assert (status, body) == (404, {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": f'widgets.{group} "{widget}" not found', "reason": "NotFound",
                "details": {"name": widget, "group": group, "kind": "widgets"},
                "code": 404}), (method, widget, sub)
        status, body = cluster.api("POST", f"/api/v1/namespaces/{ns}/configmaps", body={
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}})
        assert status == 201, body
        status, body = cluster.api("GET", f"/api/v1/namespaces/{ns}/configmaps/c1/status")
        assert status == 404 and (body["message"], body["details"]) == (NOT_FOUND, {}), body
    finally:
        cluster.delete_crds(name)
