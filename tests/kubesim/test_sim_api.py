"""kubesim's REST semantics: the ones the controller and the tests rely on."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.cluster import Cluster
from tests.support.wait import eventually_sync

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"


def _ns(cluster: Cluster) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    status, body = cluster.api("POST", "/api/v1/namespaces",
                               body={"metadata": {"name": name}})
    assert status == 201, body
    return name


def _cm(ns: str, name: str, data: dict[str, str], labels: dict[str, str] | None = None
        ) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}}, "data": data}


def _apply(cluster: Cluster, path: str, body: dict[str, Any], manager: str = "t",
           **query: str) -> tuple[int, Any]:
    return cluster.api("PATCH", path, body=body, content_type=APPLY,
                       query={"fieldManager": manager, "force": "true", **query})


def test_unauthenticated_requests_get_401(cluster: Cluster) -> None:
    status, body = cluster.api("GET", "/api/v1/namespaces", token="wrong")
    assert status == 401
    assert body["kind"] == "Status" and body["reason"] == "Unauthorized"
    assert cluster.api("GET", "/readyz", token="wrong")[0] == 401
    assert cluster.api("GET", "/readyz", token="")[0] == 200
    # kubesim refuses anonymous requests (401); a real server lets RBAC refuse them (403).
    assert cluster.api("GET", "/api/v1/namespaces", token="")[0] in (401, 403)


def test_selectors_and_pagination(cluster: Cluster) -> None:
    ns = _ns(cluster)
    for i in range(5):
        status, _ = cluster.api("POST", f"/api/v1/namespaces/{ns}/configmaps",
                                body=_cm(ns, f"c{i}", {"i": str(i)},
                                         {"tier": "a" if i % 2 else "b", "n": str(i)}))
        assert status == 201
    base = f"/api/v1/namespaces/{ns}/configmaps"

    def names(query: dict[str, str]) -> list[str]:
        status, body = cluster.api("GET", base, query=query)
        assert status == 200, body
        return [i["metadata"]["name"] for i in body["items"]]

    assert names({"labelSelector": "tier=a"}) == ["c1", "c3"]
    assert names({"labelSelector": "tier!=a"}) == ["c0", "c2", "c4"]
    assert names({"labelSelector": "n in (1,4),tier"}) == ["c1", "c4"]
    assert names({"labelSelector": "n notin (1,4),!missing"}) == ["c0", "c2", "c3"]
    assert names({"fieldSelector": "metadata.name=c2"}) == ["c2"]
    assert names({"fieldSelector": f"metadata.namespace={ns},metadata.name!=c2"}) == \
        ["c0", "c1", "c3", "c4"]
    seen: list[str] = []
    query = {"limit": "2"}
    while True:
        status, body = cluster.api("GET", base, query=query)
        seen += [i["metadata"]["name"] for i in body["items"]]
        token = body["metadata"].get("continue")
        if not token:
            break
        query = {"limit": "2", "continue": token}
    assert seen == ["c0", "c1", "c2", "c3", "c4"]


def test_generation_uid_and_resource_versions(cluster: Cluster) -> None:
    ns = _ns(cluster)
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/d"
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}}
    status, first = _apply(cluster, path, dep)
    assert status == 201 and first["metadata"]["generation"] == 1
    assert first["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == \
        "IfNotPresent"
    status, labelled = cluster.api("PATCH", path, content_type=MERGE,
                                   body={"metadata": {"labels": {"x": "y"}}})
    assert labelled["metadata"]["generation"] == 1
    assert int(labelled["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    status, scaled = cluster.api("PATCH", path, content_type=MERGE, body={"spec": {"replicas": 3}})
    assert scaled["metadata"]["generation"] == 2
    assert scaled["metadata"]["uid"] == first["metadata"]["uid"]
    status, same = cluster.api("PATCH", path, content_type=MERGE, body={"spec": {"replicas": 3}})
    assert same["metadata"]["resourceVersion"] == scaled["metadata"]["resourceVersion"]


def test_optimistic_concurrency_and_conflicts(cluster: Cluster) -> None:
    ns = _ns(cluster)
    status, cm = cluster.api("POST", f"/api/v1/namespaces/{ns}/configmaps",
                             body=_cm(ns, "x", {"a": "1"}))
    path = f"/api/v1/namespaces/{ns}/configmaps/x"
    cm["data"]["a"] = "2"
    status, _ = cluster.api("PUT", path, body=cm)
    assert status == 200
    status, stale = cluster.api("PUT", path, body=cm)
    assert status == 409 and stale["reason"] == "Conflict"
    assert stale["message"] == ('Operation cannot be fulfilled on configmaps "x": the object has '
                                "been modified; please apply your changes to the latest version "
                                "and try again")
    status, dup = cluster.api("POST", f"/api/v1/namespaces/{ns}/configmaps",
                              body=_cm(ns, "x", {}))
    assert status == 409 and dup["reason"] == "AlreadyExists"
    status, missing = cluster.api("POST", "/api/v1/namespaces/nowhere/configmaps",
                                  body=_cm("nowhere", "y", {}))
    assert status == 404 and missing["message"] == 'namespaces "nowhere" not found'


def test_dry_run_stores_nothing(cluster: Cluster) -> None:
    ns = _ns(cluster)
    base = f"/api/v1/namespaces/{ns}/configmaps"
    status, _ = cluster.api("POST", base, body=_cm(ns, "dry", {}), query={"dryRun": "All"})
    assert status == 201
    assert cluster.api("GET", f"{base}/dry")[0] == 404
    status, real = _apply(cluster, f"{base}/x", _cm(ns, "x", {"a": "1"}))
    rv = real["metadata"]["resourceVersion"]
    status, dry = _apply(cluster, f"{base}/x", _cm(ns, "x", {"a": "2"}), dryRun="All")
    assert status == 200 and dry["data"] == {"a": "2"}
    assert dry["metadata"]["resourceVersion"] == rv
    status, dry = cluster.api("DELETE", f"{base}/x", query={"dryRun": "All"})
    assert status == 200
    status, live = cluster.api("GET", f"{base}/x")
    assert live["data"] == {"a": "1"} and live["metadata"]["resourceVersion"] == rv


def test_patch_types(cluster: Cluster) -> None:
    ns = _ns(cluster)
    path = f"/api/v1/namespaces/{ns}/configmaps/p"
    cluster.api("POST", f"/api/v1/namespaces/{ns}/configmaps", body=_cm(ns, "p", {"a": "1"}))
    status, body = cluster.api("PATCH", path, content_type="application/json-patch+json",
                               body=[{"op": "test", "path": "/data/a", "value": "nope"}])
    assert status == 422 and body["reason"] == "Invalid"
    status, body = cluster.api("PATCH", path, content_type="application/json-patch+json",
                               body=[{"op": "add", "path": "/data/b", "value": "2"}])
    assert body["data"] == {"a": "1", "b": "2"}
    status, body = cluster.api("PATCH", path, content_type=MERGE, body={"data": {"a": None}})
    assert body["data"] == {"b": "2"}
    dpath = f"/apis/apps/v1/namespaces/{ns}/daemonsets/ds"
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
          "spec": {"selector": {"matchLabels": {"a": "b"}},
                   "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [
                       {"name": "one", "image": "x:1"}, {"name": "two", "image": "y:1"}]}}}}
    _apply(cluster, dpath, ds)
    status, body = cluster.api(
        "PATCH", dpath, content_type="application/strategic-merge-patch+json",
        body={"spec": {"template": {"spec": {"containers": [{"name": "two", "image": "y:2"}]}}}})
    assert status == 200, body
    images = [c["image"] for c in body["spec"]["template"]["spec"]["containers"]]
    assert images == ["x:1", "y:2"]


def test_apply_requires_a_field_manager_and_reports_conflicts(cluster: Cluster) -> None:
    ns = _ns(cluster)
    path = f"/api/v1/namespaces/{ns}/configmaps/s"
    status, body = cluster.api("PATCH", path, body=_cm(ns, "s", {}), content_type=APPLY)
    assert status == 422 and body["details"]["causes"][0]["field"] == "fieldManager"
    _apply(cluster, path, _cm(ns, "s", {"k": "1"}), manager="first")
    status, body = cluster.api("PATCH", path, body=_cm(ns, "s", {"k": "2"}), content_type=APPLY,
                               query={"fieldManager": "second"})
    assert status == 409
    # ``labels: {}`` is stored as no labels at all, so applying it again sets a field that
    # "first" owns: a conflict too, as on a real server.
    assert body["message"] == ('Apply failed with 2 conflicts: conflicts with "first":\n'
                               "- .data.k\n- .metadata.labels")
    assert body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "first"', "field": f}
        for f in (".data.k", ".metadata.labels")]


def test_crd_lifecycle(cluster: Cluster) -> None:
    group = f"g{uuid.uuid4().hex[:6]}.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"widgets.{group}"},
           "spec": {"group": group, "scope": "Cluster",
                    "names": {"kind": "Widget", "plural": "widgets"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object", "properties": {"spec": {
                                          "type": "object", "properties": {
                                              "color": {"type": "string",
                                                        "enum": ["red", "blue"]},
                                              "size": {"type": "integer", "default": 3}}}}}}}]}}
    status, body = cluster.api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                               body=crd)
    assert status == 201, body
    base = f"/apis/{group}/v1/widgets"
    eventually_sync(lambda: cluster.api("GET", base)[0] == 200, what="widgets served")
    status, bad = _apply(cluster, f"{base}/w", {"apiVersion": f"{group}/v1", "kind": "Widget",
                                                 "metadata": {"name": "w"},
                                                 "spec": {"color": "green"}})
    assert status == 422, bad
    assert bad["details"]["causes"][0]["reason"] == "FieldValueNotSupported"
    assert bad["details"]["causes"][0]["field"] == "spec.color"
    status, good = _apply(cluster, f"{base}/w", {"apiVersion": f"{group}/v1", "kind": "Widget",
                                                  "metadata": {"name": "w"},
                                                  "spec": {"color": "red"}})
    assert status == 201 and good["spec"] == {"color": "red", "size": 3}
    assert good["metadata"]["generation"] == 1
    cluster.delete_crds(f"widgets.{group}")
    eventually_sync(lambda: cluster.api("GET", base)[0] == 404, what="widgets withdrawn")


def test_finalizers_delay_deletion_until_removed(cluster: Cluster) -> None:
    ns = _ns(cluster)
    path = f"/api/v1/namespaces/{ns}/configmaps/f"
    body = _cm(ns, "f", {})
    body["metadata"]["finalizers"] = ["example.com/keep"]
    assert cluster.api("POST", f"/api/v1/namespaces/{ns}/configmaps", body=body)[0] == 201
    status, deleting = cluster.api("DELETE", path)
    assert status == 200 and deleting["metadata"]["deletionTimestamp"]
    assert cluster.api("GET", path)[0] == 200
    status, _ = cluster.api("PATCH", path, content_type=MERGE,
                            body={"metadata": {"finalizers": None}})
    assert status == 200
    eventually_sync(lambda: cluster.api("GET", path)[0] == 404, what="deleted at last")


def test_status_subresource_is_separate(cluster: Cluster) -> None:
    name = f"node-{uuid.uuid4().hex[:6]}"  # cluster-wide, so a name no other test uses
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    status, created = cluster.api("POST", "/api/v1/nodes", body=node)
    assert status == 201 and created["status"]["conditions"][0]["type"] == "Ready"
    status, patched = cluster.api("PATCH", f"/api/v1/nodes/{name}", content_type=MERGE,
                                  body={"metadata": {"labels": {"a": "b"}},
                                        "status": {"conditions": []}})
    assert patched["metadata"]["labels"] == {"a": "b"}
    assert patched["status"]["conditions"], "the main resource does not write status"
    status, patched = cluster.api("PATCH", f"/api/v1/nodes/{name}/status", content_type=MERGE,
                                  body={"status": {"conditions": []}})
    assert status == 200 and not patched["status"].get("conditions")
    status, table = cluster.api(
        "GET", f"/api/v1/nodes/{name}",
        accept="application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    assert table["rows"][0]["cells"][:2] == [name, "Unknown"]  # no Ready condition at all
    cluster.api("DELETE", f"/api/v1/nodes/{name}")


def test_namespace_deletion(cluster: Cluster) -> None:
    ns = _ns(cluster)
    cluster.api("POST", f"/api/v1/namespaces/{ns}/configmaps", body=_cm(ns, "x", {}))
    status, body = cluster.api("DELETE", f"/api/v1/namespaces/{ns}")
    # The answer is the namespace, Terminating until its contents are gone.
    assert status == 200 and body["kind"] == "Namespace", body
    assert body["metadata"]["deletionTimestamp"] and body["status"]["phase"] == "Terminating"
    assert body["spec"]["finalizers"] == ["kubernetes"]
    if cluster.sim is not None:
        # kubesim empties and removes it at once (its stand-in for the namespace controller).
        assert cluster.api("GET", f"/api/v1/namespaces/{ns}/configmaps/x")[0] == 404
        assert cluster.api("GET", f"/api/v1/namespaces/{ns}")[0] == 404
        return
    # A bare API server has no namespace controller: the namespace stays Terminating with
    # its contents, and refuses new ones.
    status, live = cluster.api("GET", f"/api/v1/namespaces/{ns}")
    assert status == 200 and live["status"]["phase"] == "Terminating"
    assert cluster.api("GET", f"/api/v1/namespaces/{ns}/configmaps/x")[0] == 200
    status, refused = cluster.api("POST", f"/api/v1/namespaces/{ns}/configmaps",
                                  body=_cm(ns, "y", {}))
    assert status == 403 and refused["reason"] == "Forbidden"
    assert refused["message"] == (f'configmaps "y" is forbidden: unable to create new content '
                                  f"in namespace {ns} because it is being terminated")


def test_delete_collection_with_selector(cluster: Cluster) -> None:
    ns = _ns(cluster)
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for i in range(3):
        cluster.api("POST", base, body=_cm(ns, f"c{i}", {}, {"drop": "yes" if i else "no"}))
    status, _ = cluster.api("DELETE", base, query={"labelSelector": "drop=yes"})
    assert status == 200
    left = [i["metadata"]["name"] for i in cluster.api("GET", base)[1]["items"]]
    assert left == ["c0"]


def test_core_events_about_cluster_objects_live_in_default(cluster: Cluster) -> None:
    ns = _ns(cluster)
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "n-"},
             "involvedObject": {"kind": "Node", "name": "n1"}, "reason": "R", "message": "m"}
    status, body = cluster.api("POST", f"/api/v1/namespaces/{ns}/events", body=event)
    assert status == 422
    assert body["details"]["causes"][0]["field"] == "involvedObject.namespace"
    status, body = cluster.api("POST", "/api/v1/namespaces/default/events", body=event)
    assert status == 201 and body["metadata"]["name"].startswith("n-")
    status, listed = cluster.api("GET", "/api/v1/namespaces/default/events",
                                 query={"fieldSelector": "involvedObject.name=n1"})
    assert [e["metadata"]["name"] for e in listed["items"]] == [body["metadata"]["name"]]
