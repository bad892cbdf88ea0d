"""Deletes with preconditions, as kube-apiserver v1.36 answers them, in both worlds: the
uid is checked before the resourceVersion, an empty one too; the refusal is worded by
kind (namespaces and CRDs word it as storage does); a delete-collection stops at the
first refusal."""

from __future__ import annotations

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

# -- DELETE -------------------------------------------------------------------------------


@pytest.mark.real_ok
def test_delete_preconditions_on_a_configmap(cluster: Cluster,
                                             existing: tuple[str, Any]) -> None:
    """The uid is checked first, an empty one too; the object stays until both match."""
    base, created = existing
    uid, rv = created["metadata"]["uid"], created["metadata"]["resourceVersion"]
    path = f"{base}/e1"
    for given in (WRONG, ""):
        for query in (None, {"dryRun": "All"}):
            status, answer = delete_with(cluster, path, query, uid=given, resourceVersion="1")
            assert (status, answer) == (409, uid_refusal(
                "ConfigMap", "e1", given, uid, kind="ConfigMap")), answer
    status, answer = delete_with(cluster, path, uid=uid, resourceVersion="1")
    assert (status, answer) == (409, conflict(
        "ConfigMap", "e1", f"the ResourceVersion in the precondition (1) does not match the "
        f"ResourceVersion in record ({rv}). The object might have been modified",
        kind="ConfigMap")), answer
    assert cluster.api("GET", path)[0] == 200
    status, answer = delete_with(cluster, path, uid=uid, resourceVersion=rv)
    assert status == 200 and answer["details"] == {"name": "e1", "kind": "configmaps",
                                                   "uid": uid}, answer
    status, answer = delete_with(cluster, path, uid=WRONG)
    assert status == 404 and answer["reason"] == "NotFound", answer


@pytest.mark.real_ok
def test_delete_preconditions_name_the_kind_and_its_group(cluster: Cluster) -> None:
    ns = cluster.new_namespace("uid")
    path = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
    obj = created(cluster, path, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                   "metadata": {"name": "l1"}, "spec": {}})
    status, answer = delete_with(cluster, f"{path}/l1", uid=WRONG)
    assert (status, answer) == (409, uid_refusal(
        "Lease.coordination.k8s.io", "l1", WRONG, obj["metadata"]["uid"], kind="Lease",
        group="coordination.k8s.io")), answer


@pytest.mark.real_ok
def test_a_namespace_words_its_delete_preconditions_as_storage(cluster: Cluster) -> None:
    ns = cluster.new_namespace("uid")
    status, obj = cluster.api("GET", f"/api/v1/namespaces/{ns}")
    uid, rv = obj["metadata"]["uid"], obj["metadata"]["resourceVersion"]
    path = f"/api/v1/namespaces/{ns}"
    status, answer = delete_with(cluster, path, uid=WRONG, resourceVersion="1")
    assert (status, answer) == (409, conflict(
        "namespaces", ns, f"Precondition failed: UID in precondition: {WRONG}, UID in "
        f"object meta: {uid}", kind="namespaces")), answer
    status, answer = delete_with(cluster, path, uid=uid, resourceVersion="1")
    assert (status, answer) == (409, conflict(
        "namespaces", ns, "Precondition failed: ResourceVersion in precondition: 1, "
        f"ResourceVersion in object meta: {rv}", kind="namespaces")), answer


@pytest.mark.real_ok
def test_a_delete_collection_stops_at_the_first_refusal(cluster: Cluster) -> None:
    """Each object must meet the preconditions; the first that does not ends the call."""
    base = f"/api/v1/namespaces/{cluster.new_namespace('uid')}/configmaps"
    uids = {name: created(cluster, base, configmap(name))["metadata"]["uid"]
            for name in ("a1", "a2", "a3")}
    status, answer = delete_with(cluster, base, uid=uids["a1"])
    assert (status, answer) == (409, uid_refusal(
        "ConfigMap", "a2", uids["a1"], uids["a2"], kind="ConfigMap")), answer
    status, listed = cluster.api("GET", base)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a2", "a3"], listed
