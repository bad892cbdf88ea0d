"""Writes that name an object's uid, and deletes with preconditions, as kube-apiserver
v1.36 answers them.

Every test runs in both worlds with the same expectations, the real server's answers
(codes, reasons, messages, details): a PUT's uid is a storage precondition (409 naming
the etcd key), a patch may not change the uid (422, the cause twice), an apply naming a
uid creates nothing (409 "uid mismatch"), a POST ignores the uid, and a delete's
preconditions are worded by kind (namespaces and CRDs word them as storage does).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import Cluster
from tests.support.uid_answers import (
    WRONG,
    configmap,
    conflict,
    created,
    delete_with,
    uid_refusal,
)

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
IMMUTABLE = {"reason": "FieldValueInvalid",
             "message": f'Invalid value: "{WRONG}": field is immutable', "field": "metadata.uid"}


def _storage_refusal(resource: str, key: str, name: str, stored: str, *, plural: str,
                     group: str = "") -> dict[str, Any]:
    """A PUT whose uid is not the stored one: storage's precondition error."""
    return conflict(resource, name, f"StorageError: invalid object, Code: 4, Key: {key}, "
                     f"ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in "
                     f"precondition: {WRONG}, UID in object meta: {stored}",
                     kind=plural, group=group)


def _stale(resource: str, name: str, *, plural: str) -> dict[str, Any]:
    return conflict(resource, name, "the object has been modified; please apply your "
                     "changes to the latest version and try again", kind=plural)


# -- apply that would create --------------------------------------------------------------


APPLY_CREATES = {
    "force": {"force": "true"},
    "without force": {},
    "dry run": {"dryRun": "All"},
}


@pytest.mark.real_ok
@pytest.mark.parametrize("query", APPLY_CREATES.values(), ids=APPLY_CREATES.keys())
def test_an_apply_naming_a_uid_creates_nothing(cluster: Cluster, query: dict[str, str]
                                               ) -> None:
    base = f"/api/v1/namespaces/{cluster.new_namespace('uid')}/configmaps"
    status, body = cluster.api("PATCH", f"{base}/u1", body=configmap("u1", uid=WRONG),
                               content_type=APPLY, query={"fieldManager": "t", **query})
    assert (status, body) == (409, conflict(
        "configmaps", "u1", f"uid mismatch: the provided object specified uid {WRONG}, and "
        "no existing object was found", kind="configmaps")), body
    assert cluster.api("GET", f"{base}/u1")[0] == 404


@pytest.mark.real_ok
def test_the_uid_mismatch_comes_before_the_create_checks(cluster: Cluster) -> None:
    """No namespace, an invalid name, a resourceVersion: the uid is refused first."""
    missing = f"/api/v1/namespaces/gone-{uuid.uuid4().hex[:6]}/configmaps"
    here = f"/api/v1/namespaces/{cluster.new_namespace('uid')}/configmaps"
    for base, body in ((missing, configmap("m1", uid=WRONG)),
                       (here, configmap("Bad_Name", uid=WRONG)),
                       (here, configmap("m2", uid=WRONG, resourceVersion="5"))):
        name = body["metadata"]["name"]
        status, answer = cluster.api("PATCH", f"{base}/{name}", body=body, content_type=APPLY,
                                     query={"fieldManager": "t", "force": "true"})
        assert status == 409 and answer["message"].endswith(
            f"uid mismatch: the provided object specified uid {WRONG}, and no existing "
            "object was found"), (name, answer)


@pytest.mark.real_ok
def test_an_apply_with_a_resource_version_and_no_object_creates_it(cluster: Cluster) -> None:
    base = f"/api/v1/namespaces/{cluster.new_namespace('uid')}/configmaps"
    status, body = cluster.api("PATCH", f"{base}/m1", body=configmap("m1", resourceVersion="5"),
                               content_type=APPLY, query={"fieldManager": "t"})
    assert status == 201, body
    assert body["metadata"]["uid"] and body["data"] == {"k": "v"}


# -- patches of an existing object --------------------------------------------------------


PATCHES = {
    "apply": (APPLY, configmap("e1", uid=WRONG)),
    "merge": (MERGE, {"metadata": {"uid": WRONG}}),
    "strategic": (STRATEGIC, {"metadata": {"uid": WRONG}}),
    "json replace": (JSON_PATCH, [{"op": "replace", "path": "/metadata/uid", "value": WRONG}]),
    "json add": (JSON_PATCH, [{"op": "add", "path": "/metadata/uid", "value": WRONG}]),
}


def _patch(cluster: Cluster, path: str, ctype: str, body: Any) -> tuple[int, Any]:
    query = {"fieldManager": "t", "force": "true"} if ctype == APPLY else None
    return cluster.api("PATCH", path, body=body, content_type=ctype, query=query)


@pytest.mark.real_ok
@pytest.mark.parametrize(("ctype", "body"), PATCHES.values(), ids=PATCHES.keys())
def test_a_patch_may_not_change_the_uid(cluster: Cluster, existing: tuple[str, Any],
                                        ctype: str, body: Any) -> None:
    base, created = existing
    status, answer = _patch(cluster, f"{base}/e1", ctype, body)
    assert (status, answer) == (422, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'ConfigMap "e1" is invalid: metadata.uid: {IMMUTABLE["message"]}',
        "reason": "Invalid",
        "details": {"name": "e1", "kind": "ConfigMap", "causes": [IMMUTABLE, IMMUTABLE]},
        "code": 422}), answer
    status, now = cluster.api("GET", f"{base}/e1")
    assert now["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"], now


@pytest.mark.real_ok
def test_a_patch_naming_the_stored_uid_or_dropping_it_keeps_it(
    cluster: Cluster, existing: tuple[str, Any]
) -> None:
    base, created = existing
    uid = created["metadata"]["uid"]
    for ctype, body in ((APPLY, configmap("e1", uid=uid)), (MERGE, {"metadata": {"uid": uid}}),
                        (MERGE, {"metadata": {"uid": None}}),
                        (JSON_PATCH, [{"op": "remove", "path": "/metadata/uid"}])):
        status, answer = _patch(cluster, f"{base}/e1", ctype, body)
        assert status == 200 and answer["metadata"]["uid"] == uid, (ctype, body, answer)


@pytest.mark.real_ok
def test_a_stale_resource_version_is_refused_before_the_uid(
    cluster: Cluster, existing: tuple[str, Any]
) -> None:
    base, _ = existing
    for ctype, body in ((MERGE, {"metadata": {"uid": WRONG, "resourceVersion": "1"}}),
                        (APPLY, configmap("e1", uid=WRONG, resourceVersion="1"))):
        status, answer = _patch(cluster, f"{base}/e1", ctype, body)
        assert (status, answer) == (409, _stale("configmaps", "e1", plural="configmaps")), \
            answer


@pytest.mark.real_ok
def test_the_invalid_message_names_each_cause_once(
    cluster: Cluster, existing: tuple[str, Any]
) -> None:
    """Metadata is validated more than once on update: causes repeat, the message not."""
    base, _ = existing
    status, answer = _patch(cluster, f"{base}/e1", MERGE,
                            {"metadata": {"uid": WRONG, "labels": {"a": "-x-"}}})
    assert status == 422, answer
    label = next(c for c in answer["details"]["causes"] if c["field"] == "metadata.labels")
    assert answer["message"] == (f'ConfigMap "e1" is invalid: [metadata.labels: '
                                 f'{label["message"]}, metadata.uid: {IMMUTABLE["message"]}]')
    assert answer["details"]["causes"].count(IMMUTABLE) == 2, answer


# (collection under a namespace or "" for cluster scope, body): each resource's own
# update validation repeats the metadata checks in its own order ("L" a bad label,
# "U" the changed uid).
UPDATE_REPEATS = {
    "configmap": ("/api/v1/namespaces/{ns}/configmaps", configmap("r1"), "LULULL"),
    "service": ("/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "r1"},
        "spec": {"ports": [{"port": 80}]}}, "LULUL"),
    "role": ("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "r1"}, "rules": []}, "LULLUL"),
    "core event": ("/api/v1/namespaces/{ns}/events", {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "r1"},
        "involvedObject": {"kind": "ConfigMap", "namespace": "{ns}", "name": "a"},
        "reason": "R", "message": "m", "type": "Normal", "source": {"component": "c"}},
        "LUL"),
    "webhook configuration": (
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "r1-{ns}"},
            "webhooks": []}, "LULL"),
}


@pytest.mark.real_ok
@pytest.mark.parametrize(("collection", "body", "fields"), UPDATE_REPEATS.values(),
                         ids=UPDATE_REPEATS.keys())
def test_an_update_repeats_the_metadata_checks_as_each_resource_does(
    cluster: Cluster, collection: str, body: dict[str, Any], fields: str
) -> None:
    ns = cluster.new_namespace("uid")
    collection = collection.format(ns=ns)
    obj = created(cluster, collection, json.loads(json.dumps(body).replace("{ns}", ns)))
    path = f"{collection}/{obj['metadata']['name']}"
    try:
        status, answer = _patch(cluster, path, MERGE,
                                {"metadata": {"uid": WRONG, "labels": {"a": "-x-"}}})
        assert status == 422, answer
        got = "".join(c["field"][len("metadata.")].upper() for c in answer["details"]["causes"])
        assert got == fields, answer
    finally:
        if "/namespaces/" not in collection:
            cluster.api("DELETE", path)


@pytest.mark.real_ok
def test_a_status_patch_may_not_change_the_uid_either(cluster: Cluster) -> None:
    name = f"n-{uuid.uuid4().hex[:8]}"
    status, node = cluster.api("POST", "/api/v1/nodes", body={
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    assert status == 201, node
    try:
        status, answer = cluster.api("PATCH", f"/api/v1/nodes/{name}/status",
                                     body={"metadata": {"uid": WRONG}}, content_type=MERGE)
        assert status == 422, answer
        assert answer["details"] == {"name": name, "kind": "Node",
                                     "causes": [IMMUTABLE, IMMUTABLE]}, answer
    finally:
        cluster.api("DELETE", f"/api/v1/nodes/{name}")


# -- PUT ----------------------------------------------------------------------------------


@pytest.mark.real_ok
def test_a_put_naming_another_uid_fails_its_storage_precondition(
    cluster: Cluster, existing: tuple[str, Any]
) -> None:
    """Checked before the resourceVersion and before validation; the stored uid wins."""
    base, created = existing
    ns, uid = created["metadata"]["namespace"], created["metadata"]["uid"]
    refused = _storage_refusal("configmaps", f"/registry/configmaps/{ns}/e1", "e1", uid,
                               plural="configmaps")
    for meta in ({}, {"resourceVersion": "1"}, {"labels": {"a": "-x-"}}):
        status, answer = cluster.api("PUT", f"{base}/e1", body=configmap("e1", uid=WRONG, **meta))
        assert (status, answer) == (409, refused), (meta, answer)
    for given in (uid, None):
        status, answer = cluster.api("PUT", f"{base}/e1", body=configmap("e1", uid=given))
        assert status == 200 and answer["metadata"]["uid"] == uid, answer
    status, answer = cluster.api("PUT", f"{base}/p1", body=configmap("p1", uid=WRONG))
    assert status == 404 and answer["reason"] == "NotFound", answer


def _refused_put(cluster: Cluster, path: str, obj: dict[str, Any]) -> tuple[int, Any]:
    wrong = {**obj, "metadata": {**obj["metadata"], "uid": WRONG}}
    return cluster.api("PUT", path, body=wrong)


@pytest.mark.real_ok
def test_the_storage_precondition_names_each_kinds_etcd_key(cluster: Cluster) -> None:
    """Most resources live under their plural; services and nodes under older names."""
    ns = cluster.new_namespace("uid")
    node = f"n-{uuid.uuid4().hex[:8]}"
    kinds = [  # (collection, body, resource as named, plural, group, etcd key)
        (f"/api/v1/namespaces/{ns}/services", {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "s1"}, "spec": {"ports": [{"port": 80}]}},
         "services", "services", "", f"/registry/services/specs/{ns}/s1"),
        ("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}},
         "nodes", "nodes", "", f"/registry/minions/{node}"),
        (f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
         {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
          "metadata": {"name": "l1"}, "spec": {}}, "leases.coordination.k8s.io", "leases",
         "coordination.k8s.io", f"/registry/leases/{ns}/l1"),
    ]
    try:
        for collection, body, resource, plural, group, key in kinds:
            obj = created(cluster, collection, body)
            name = obj["metadata"]["name"]
            status, answer = _refused_put(cluster, f"{collection}/{name}", obj)
            assert (status, answer) == (409, _storage_refusal(
                resource, key, name, obj["metadata"]["uid"], plural=plural, group=group)), \
                answer
        status, obj = cluster.api("GET", f"/api/v1/namespaces/{ns}")
        status, answer = _refused_put(cluster, f"/api/v1/namespaces/{ns}", obj)
        assert (status, answer) == (409, _storage_refusal(
            "namespaces", f"/registry/namespaces/{ns}", ns, obj["metadata"]["uid"],
            plural="namespaces")), answer
    finally:
        cluster.api("DELETE", f"/api/v1/nodes/{node}")


@pytest.mark.real_ok
def test_a_status_put_has_the_same_precondition(cluster: Cluster) -> None:
    ns = cluster.new_namespace("uid")
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    obj = created(cluster, path, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d1"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "registry.invalid/c"}]}}}})
    status, answer = _refused_put(cluster, f"{path}/d1/status", obj)
    assert (status, answer) == (409, _storage_refusal(
        "deployments.apps", f"/registry/deployments/{ns}/d1", "d1", obj["metadata"]["uid"],
        plural="deployments", group="apps")), answer


@pytest.mark.real_ok
def test_a_create_ignores_the_uid_it_is_given(cluster: Cluster) -> None:
    base = f"/api/v1/namespaces/{cluster.new_namespace('uid')}/configmaps"
    for query in ({"dryRun": "All"}, None):
        status, body = cluster.api("POST", base, body=configmap("c1", uid=WRONG), query=query)
        assert status == 201, body
        assert body["metadata"]["uid"] not in ("", WRONG), body


# -- custom resources ---------------------------------------------------------------------


def _crd(group: str) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                               "listKind": "WidgetList"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object", "properties": {"spec": {
                                           "type": "object",
                                           "x-kubernetes-preserve-unknown-fields": True}}}}}]}}


@pytest.mark.real_ok
def test_custom_resources_and_their_definition(cluster: Cluster, tmp_path: Path) -> None:
    """A custom resource lives under its group in etcd, and a CRD words its delete
    preconditions as storage does."""
    group = f"u{uuid.uuid4().hex[:6]}.example.com"
    crd_path = tmp_path / "crd.json"
    crd_path.write_text(json.dumps(_crd(group)))
    (crd_name,) = cluster.install_crds(crd_path)
    try:
        ns = cluster.new_namespace("uid")
        base = f"/apis/{group}/v1/namespaces/{ns}/widgets"
        obj = created(cluster, base, {"apiVersion": f"{group}/v1", "kind": "Widget",
                                       "metadata": {"name": "w1"}, "spec": {"a": 1}})
        uid = obj["metadata"]["uid"]
        status, answer = _refused_put(cluster, f"{base}/w1", obj)
        assert (status, answer) == (409, _storage_refusal(
            f"widgets.{group}", f"/registry/{group}/widgets/{ns}/w1", "w1", uid,
            plural="widgets", group=group)), answer
        status, answer = _patch(cluster, f"{base}/w1", MERGE, {"metadata": {"uid": WRONG}})
        assert status == 422 and answer["details"] == {
            "name": "w1", "group": group, "kind": "Widget",
            "causes": [IMMUTABLE, IMMUTABLE]}, answer
        status, answer = delete_with(cluster, f"{base}/w1", uid=WRONG)
        assert (status, answer) == (409, uid_refusal(
            f"Widget.{group}", "w1", WRONG, uid, kind="Widget", group=group)), answer
        crd = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd_name}"
        status, stored = cluster.api("GET", crd)
        status, answer = delete_with(cluster, crd, uid=WRONG)
        assert (status, answer) == (409, conflict(
            "customresourcedefinitions.apiextensions.k8s.io", crd_name,
            f"Precondition failed: UID in precondition: {WRONG}, UID in object meta: "
            f"{stored['metadata']['uid']}", kind="customresourcedefinitions",
            group="apiextensions.k8s.io")), answer
    finally:
        cluster.delete_crds(crd_name)
