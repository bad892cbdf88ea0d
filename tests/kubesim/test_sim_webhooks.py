"""Validating admission webhooks called for real (kubesim and a real API server alike)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.cluster import Cluster, free_port
from tests.support.wait import eventually_sync
from tests.support.webhook import DenyingWebhook, rule


@pytest.fixture
def ns(cluster: Cluster) -> str:
    """A namespace of the test's own; its webhooks only see objects there."""
    return cluster.new_namespace()


def _cm(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "1"}}


def _cms(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/configmaps"


def _create_status(cluster: Cluster, ns: str, name: str, **kw: Any) -> tuple[int, Any]:
    return cluster.api("POST", _cms(ns), body=_cm(name, **kw))


def test_denial_is_worded_like_the_api_server(cluster: Cluster,
                                              webhook: DenyingWebhook, ns: str) -> None:
    webhook.deny("ConfigMap", "configmaps are frozen")
    webhook.register(cluster, "freeze.autopilot.test", namespace=ns,
                     rules=[rule("", "configmaps")])
    status, body = eventually_sync(
        lambda: (r := _create_status(cluster, ns, "x"))[0] == 403 and r,
        what="the webhook refusing configmaps")
    assert body["message"] == ('admission webhook "freeze.autopilot.test" denied the request: '
                               "configmaps are frozen")
    assert any(s.kind == "ConfigMap" and s.operation == "CREATE" and not s.allowed
               for s in webhook.seen)
    # Dry runs reach a webhook without side effects, flagged as such.
    status, body = cluster.api("POST", _cms(ns), body=_cm("y"), query={"dryRun": "All"})
    assert status == 403 and "configmaps are frozen" in body["message"]
    assert any(s.dry_run for s in webhook.seen)
    # Other kinds are not sent to it; once allowed, writes go through.
    assert cluster.api("POST", f"/api/v1/namespaces/{ns}/secrets",
                       body={"apiVersion": "v1", "kind": "Secret",
                             "metadata": {"name": "s"}})[0] == 201
    assert {s.kind for s in webhook.seen} == {"ConfigMap"}
    webhook.allow_all()
    assert _create_status(cluster, ns, "after")[0] == 201


def test_updates_server_side_applies_and_deletes_are_reviewed(
        cluster: Cluster, webhook: DenyingWebhook, ns: str) -> None:
    assert _create_status(cluster, ns, "x")[0] == 201
    webhook.deny("ConfigMap", "no changes", operations=("UPDATE", "DELETE"))
    webhook.register(cluster, "changes.autopilot.test", namespace=ns,
                     rules=[rule("", "configmaps", operations=("*",))])
    apply = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
             "data": {"a": "2"}}

    def applied(**query: str) -> int:
        return cluster.api("PATCH", f"{_cms(ns)}/x", body=apply,
                           content_type="application/apply-patch+yaml",
                           query={"fieldManager": "t", "force": "true", **query})[0]

    # In force once a dry run is refused (a dry run changes nothing meanwhile).
    eventually_sync(lambda: applied(dryRun="All") == 403, what="the webhook in force")
    assert applied() == 403
    status, body = cluster.api("DELETE", f"{_cms(ns)}/x")
    assert status == 403 and "no changes" in body["message"]
    assert cluster.api("GET", f"{_cms(ns)}/x")[1]["data"] == {"a": "1"}
    assert _create_status(cluster, ns, "z")[0] == 201  # CREATE stays allowed


def test_object_selector_limits_what_is_sent(cluster: Cluster,
                                             webhook: DenyingWebhook, ns: str) -> None:
    webhook.deny("ConfigMap", "guarded")
    webhook.register(cluster, "guard.autopilot.test", namespace=ns,
                     rules=[rule("", "configmaps")],
                     object_selector={"matchLabels": {"guarded": "yes"}})
    eventually_sync(
        lambda: _create_status(cluster, ns, "g1", labels={"guarded": "yes"})[0] == 403,
        what="labelled objects reviewed")
    assert _create_status(cluster, ns, "free")[0] == 201


def test_failure_policy(cluster: Cluster, webhook: DenyingWebhook, ns: str) -> None:
    dead = f"https://127.0.0.1:{free_port()}/validate"
    name = webhook.register(cluster, "dead.autopilot.test", namespace=ns,
                            rules=[rule("", "configmaps")], url=dead)
    _, body = eventually_sync(
        lambda: (r := _create_status(cluster, ns, "x"))[0] == 500 and r,
        what="an unreachable webhook failing the write")
    assert body["reason"] == "InternalError"
    assert body["message"].startswith(
        'Internal error occurred: failed calling webhook "dead.autopilot.test": '
        "failed to call webhook")
    webhook.unregister(cluster, name)
    webhook.register(cluster, "dead.autopilot.test", namespace=ns,
                     rules=[rule("", "configmaps")], url=dead, failure_policy="Ignore")
    eventually_sync(lambda: _create_status(cluster, ns, "y")[0] == 201,
                    what="failurePolicy Ignore lets the write through")


def test_removing_the_configuration_lifts_the_denial(cluster: Cluster,
                                                     webhook: DenyingWebhook, ns: str) -> None:
    webhook.deny("ConfigMap", "frozen")
    name = webhook.register(cluster, "lift.autopilot.test", namespace=ns,
                            rules=[rule("", "configmaps")])
    eventually_sync(lambda: _create_status(cluster, ns, "x")[0] == 403, what="denied")
    webhook.unregister(cluster, name)
    eventually_sync(lambda: _create_status(cluster, ns, "y")[0] == 201, what="lifted")


def test_delete_collection_reviews_each_object(cluster: Cluster,
                                               webhook: DenyingWebhook, ns: str) -> None:
    assert _create_status(cluster, ns, "a-free")[0] == 201
    assert _create_status(cluster, ns, "b-kept", labels={"keep": "yes"})[0] == 201
    webhook.deny("ConfigMap", "kept", operations=("DELETE",))
    webhook.register(cluster, "keep.autopilot.test", namespace=ns,
                     rules=[rule("", "configmaps", operations=("DELETE",))],
                     object_selector={"matchLabels": {"keep": "yes"}})
    # Wait until the configuration is in force (a dry run deletes nothing meanwhile).
    eventually_sync(lambda: cluster.api("DELETE", f"{_cms(ns)}/b-kept",
                                        query={"dryRun": "All"})[0] == 403,
                    what="the webhook in force")
    status, body = cluster.api("DELETE", _cms(ns))
    assert status == 403 and "kept" in body["message"], body
    assert cluster.api("GET", f"{_cms(ns)}/a-free")[0] == 404
    assert cluster.api("GET", f"{_cms(ns)}/b-kept")[0] == 200
    # Each object is reviewed on its own, under the collection's (empty) name.
    assert {(s.name, s.object_name) for s in webhook.seen if not s.dry_run} == {("", "b-kept")}


def test_admission_is_asked_before_the_name_is_found_taken(
        cluster: Cluster, webhook: DenyingWebhook, ns: str) -> None:
    assert _create_status(cluster, ns, "taken")[0] == 201
    webhook.deny("ConfigMap", "frozen", operations=("CREATE",))
    webhook.register(cluster, "order.autopilot.test", namespace=ns, rules=[
        rule("", "configmaps", operations=("CREATE",))])
    # A real server validates and admits before storage finds the name taken.
    eventually_sync(lambda: _create_status(cluster, ns, "taken")[0] == 403,
                    what="refused rather than AlreadyExists")
    webhook.allow_all()
    status, body = _create_status(cluster, ns, "taken")
    assert status == 409 and body["reason"] == "AlreadyExists"
