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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import Cluster

WRONG = "0badc0de-0000-4000-8000-00000000cafe"
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
IMMUTABLE = {"reason": "FieldValueInvalid",
             "message": f'Invalid value: "{WRONG}": field is immutable', "field": "metadata.uid"}


def _cm(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta},
            "data": {"k": "v"}}


def _conflict(resource: str, name: str, why: str, *, kind: str,
              group: str = "") -> dict[str, Any]:
    """The 409 Status the server answers (``kind`` as its details name it)."""
    details: dict[str, Any] = {"name": name, **({"group": group} if group else {}),
                               "kind": kind}
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f'Operation cannot be fulfilled on {resource} "{name}": {why}',
            "reason": "Conflict", "details": details, "code": 409}


def _storage_refusal(resource: str, key: str, name: str, stored: str, *, plural: str,
                     group: str = "") -> dict[str, Any]:
    """A PUT whose uid is not the stored one: storage's precondition error."""
    return _conflict(resource, name, f"StorageError: invalid object, Code: 4, Key: {key}, "
                     f"ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in "
                     f"precondition: {WRONG}, UID in object meta: {stored}",
                     kind=plural, group=group)


def _stale(resource: str, name: str, *, plural: str) -> dict[str, Any]:
    return _conflict(resource, name, "the object has been modified; please apply your "
                     "changes to the latest version and try again", kind=plural)


@pytest.fixture
def existing(cluster: Cluster) -> Iterator[tuple[str, dict[str, Any]]]:
    """A namespace's ConfigMaps path and one ConfigMap ``e1`` in it, as created."""
    base = f"/api/v1/namespaces/{cluster.new_namespace('uid')}/configmaps"
    status, created = cluster.api("POST", base, body=_cm("e1"))
    assert status == 201, created
    yield base, created


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
    status, body = cluster.api("PATCH", f"{base}/u1", body=_cm("u1", uid=WRONG),
                               content_type=APPLY, query={"fieldManager": "t", **query})
    assert (status, body) == (409, _conflict(
        "configmaps", "u1", f"uid mismatch: the provided object specified uid {WRONG}, and "
        "no existing object was found", kind="configmaps")), body
    assert cluster.api("GET", f"{base}/u1")[0] == 404


@pytest.mark.real_ok
def test_the_uid_mismatch_comes_before_the_create_checks(cluster: Cluster) -> None:
    """No namespace, an invalid name, a resourceVersion: the uid is refused first."""
    missing = f"/api/v1/namespaces/gone-{uuid.uuid4().hex[:6]}/configmaps"
    here = f"/api/v1/namespaces/{cluster.new_namespace('uid')}/configmaps"
    for base, body in ((missing, _cm("m1", uid=WRONG)), (here, _cm("Bad_Name", uid=WRONG)),
                       (here, _cm("m2", uid=WRONG, resourceVersion="5"))):
        name = body["metadata"]["name"]
        status, answer = cluster.api("PATCH", f"{base}/{name}", body=body, content_type=APPLY,
                                     query={"fieldManager": "t", "force": "true"})
        assert status == 409 and answer["message"].endswith(
            f"uid mismatch: the provided object specified uid {WRONG}, and no existing "
            "object was found"), (name, answer)


@pytest.mark.real_ok
def test_an_apply_with_a_resource_version_and_no_object_creates_it(cluster: Cluster) -> None:
    base = f"/api/v1/namespaces/{cluster.new_namespace('uid')}/configmaps"
    status, body = cluster.api("PATCH", f"{base}/m1", body=_cm("m1", resourceVersion="5"),
                               content_type=APPLY, query={"fieldManager": "t"})
    assert status == 201, body
    assert body["metadata"]["uid"] and body["data"] == {"k": "v"}


# -- patches of an existing object --------------------------------------------------------


PATCHES = {
    "apply": (APPLY, _cm("e1", uid=WRONG)),
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
    for ctype, body in ((APPLY, _cm("e1", uid=uid)), (MERGE, {"metadata": {"uid": uid}}),
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
                        (APPLY, _cm("e1", uid=WRONG, resourceVersion="1"))):
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
    "configmap": ("/api/v1/namespaces/{ns}/configmaps", _cm("r1"), "LULULL"),
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
    obj = _created(cluster, collection, json.loads(json.dumps(body).replace("{ns}", ns)))
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
        status, answer = cluster.api("PUT", f"{base}/e1", body=_cm("e1", uid=WRONG, **meta))
        assert (status, answer) == (409, refused), (meta, answer)
    for given in (uid, None):
        status, answer = cluster.api("PUT", f"{base}/e1", body=_cm("e1", uid=given))
        assert status == 200 and answer["metadata"]["uid"] == uid, answer
    status, answer = cluster.api("PUT", f"{base}/p1", body=_cm("p1", uid=WRONG))
    assert status == 404 and answer["reason"] == "NotFound", answer


def _created(cluster: Cluster, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, obj = cluster.api("POST", path, body=body)
    assert status == 201, obj
    return obj


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
            obj = _created(cluster, collection, body)
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
    obj = _created(cluster, path, {
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
        status, body = cluster.api("POST", base, body=_cm("c1", uid=WRONG), query=query)
        assert status == 201, body
        assert body["metadata"]["uid"] not in ("", WRONG), body


# -- DELETE -------------------------------------------------------------------------------


def _delete(cluster: Cluster, path: str, query: dict[str, str] | None = None,
            **preconditions: str) -> tuple[int, Any]:
    return cluster.api("DELETE", path, body={"apiVersion": "v1", "kind": "DeleteOptions",
                                             "preconditions": preconditions}, query=query)


def _uid_refusal(resource: str, name: str, given: str, stored: str, *, kind: str,
                 group: str = "") -> dict[str, Any]:
    return _conflict(resource, name, f"the UID in the precondition ({given}) does not match "
                     f"the UID in record ({stored}). The object might have been deleted and "
                     "then recreated", kind=kind, group=group)


@pytest.mark.real_ok
def test_delete_preconditions_on_a_configmap(cluster: Cluster,
                                             existing: tuple[str, Any]) -> None:
    """The uid is checked first, an empty one too; the object stays until both match."""
    base, created = existing
    uid, rv = created["metadata"]["uid"], created["metadata"]["resourceVersion"]
    path = f"{base}/e1"
    for given in (WRONG, ""):
        for query in (None, {"dryRun": "All"}):
            status, answer = _delete(cluster, path, query, uid=given, resourceVersion="1")
            assert (status, answer) == (409, _uid_refusal(
                "ConfigMap", "e1", given, uid, kind="ConfigMap")), answer
    status, answer = _delete(cluster, path, uid=uid, resourceVersion="1")
    assert (status, answer) == (409, _conflict(
        "ConfigMap", "e1", f"the ResourceVersion in the precondition (1) does not match the "
        f"ResourceVersion in record ({rv}). The object might have been modified",
        kind="ConfigMap")), answer
    assert cluster.api("GET", path)[0] == 200
    status, answer = _delete(cluster, path, uid=uid, resourceVersion=rv)
    assert status == 200 and answer["details"] == {"name": "e1", "kind": "configmaps",
                                                   "uid": uid}, answer
    status, answer = _delete(cluster, path, uid=WRONG)
    assert status == 404 and answer["reason"] == "NotFound", answer


@pytest.mark.real_ok
def test_delete_preconditions_name_the_kind_and_its_group(cluster: Cluster) -> None:
    ns = cluster.new_namespace("uid")
    path = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
    obj = _created(cluster, path, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                   "metadata": {"name": "l1"}, "spec": {}})
    status, answer = _delete(cluster, f"{path}/l1", uid=WRONG)
    assert (status, answer) == (409, _uid_refusal(
        "Lease.coordination.k8s.io", "l1", WRONG, obj["metadata"]["uid"], kind="Lease",
        group="coordination.k8s.io")), answer


@pytest.mark.real_ok
def test_a_namespace_words_its_delete_preconditions_as_storage(cluster: Cluster) -> None:
    ns = cluster.new_namespace("uid")
    status, obj = cluster.api("GET", f"/api/v1/namespaces/{ns}")
    uid, rv = obj["metadata"]["uid"], obj["metadata"]["resourceVersion"]
    path = f"/api/v1/namespaces/{ns}"
    status, answer = _delete(cluster, path, uid=WRONG, resourceVersion="1")
    assert (status, answer) == (409, _conflict(
        "namespaces", ns, f"Precondition failed: UID in precondition: {WRONG}, UID in "
        f"object meta: {uid}", kind="namespaces")), answer
    status, answer = _delete(cluster, path, uid=uid, resourceVersion="1")
    assert (status, answer) == (409, _conflict(
        "namespaces", ns, "Precondition failed: ResourceVersion in precondition: 1, "
        f"ResourceVersion in object meta: {rv}", kind="namespaces")), answer


@pytest.mark.real_ok
def test_a_delete_collection_stops_at_the_first_refusal(cluster: Cluster) -> None:
    """Each object must meet the preconditions; the first that does not ends the call."""
    base = f"/api/v1/namespaces/{cluster.new_namespace('uid')}/configmaps"
    uids = {name: _created(cluster, base, _cm(name))["metadata"]["uid"]
            for name in ("a1", "a2", "a3")}
    status, answer = _delete(cluster, base, uid=uids["a1"])
    assert (status, answer) == (409, _uid_refusal(
        "ConfigMap", "a2", uids["a1"], uids["a2"], kind="ConfigMap")), answer
    status, listed = cluster.api("GET", base)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a2", "a3"], listed


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
        obj = _created(cluster, base, {"apiVersion": f"{group}/v1", "kind": "Widget",
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
        status, answer = _delete(cluster, f"{base}/w1", uid=WRONG)
        assert (status, answer) == (409, _uid_refusal(
            f"Widget.{group}", "w1", WRONG, uid, kind="Widget", group=group)), answer
        crd = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd_name}"
        status, stored = cluster.api("GET", crd)
        status, answer = _delete(cluster, crd, uid=WRONG)
        assert (status, answer) == (409, _conflict(
            "customresourcedefinitions.apiextensions.k8s.io", crd_name,
            f"Precondition failed: UID in precondition: {WRONG}, UID in object meta: "
            f"{stored['metadata']['uid']}", kind="customresourcedefinitions",
            group="apiextensions.k8s.io")), answer
    finally:
        cluster.delete_crds(crd_name)
