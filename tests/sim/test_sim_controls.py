"""kubesim test controls: faults, denials and request counters."""

from __future__ import annotations

import time

from tests.support.cluster import Cluster

CM = "/api/v1/namespaces/default/configmaps"


def _cm(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}}


def test_error_injection_next_n_with_retry_after(cluster: Cluster) -> None:
    sim = cluster.require_sim()
    sim.controls.inject_errors(status=429, verb="list", resource="configmaps", count=2,
                               retry_after=3)
    status, body = cluster.api("GET", CM)
    assert status == 429 and body["reason"] == "TooManyRequests"
    assert body["details"]["retryAfterSeconds"] == 3
    assert cluster.api("GET", CM)[0] == 429
    assert cluster.api("GET", CM)[0] == 200
    assert cluster.api("GET", "/api/v1/namespaces")[0] == 200
    sim.controls.inject_errors(status=503, verb="create")
    status, body = cluster.api("POST", CM, body=_cm("x"))
    assert status == 503 and body["reason"] == "ServiceUnavailable"
    sim.controls.clear_errors()
    assert cluster.api("POST", CM, body=_cm("x"))[0] == 201


def test_hanging_requests_time_out_on_the_client(cluster: Cluster) -> None:
    sim = cluster.require_sim()
    sim.controls.inject_errors(verb="get", resource="configmaps", hang=True, count=1)
    started = time.monotonic()
    try:
        cluster.api("GET", f"{CM}/x", timeout=0.5)
    except TimeoutError:
        pass
    else:
        raise AssertionError("the request was answered")
    assert time.monotonic() - started < 5
    assert cluster.api("GET", f"{CM}/x")[0] == 404


def test_latency_is_injected_per_verb(cluster: Cluster) -> None:
    sim = cluster.require_sim()
    sim.controls.set_latency(0.3, verb="list", resource="configmaps")
    started = time.monotonic()
    cluster.api("GET", CM)
    assert time.monotonic() - started >= 0.3
    sim.controls.clear_latency()


def test_admission_denial_looks_like_a_webhook(cluster: Cluster) -> None:
    sim = cluster.require_sim()
    sim.controls.deny_admission(kind="ConfigMap", message="configmaps are frozen",
                                webhook="freeze.example.com")
    status, body = cluster.api("POST", CM, body=_cm("x"))
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('admission webhook "freeze.example.com" denied the request: '
                               "configmaps are frozen")
    status, _ = cluster.api("POST", CM, body=_cm("x"), query={"dryRun": "All"})
    assert status == 403, "webhooks see dry runs too"
    sim.controls.clear_admission()
    assert cluster.api("POST", CM, body=_cm("x"))[0] == 201


def test_rbac_denial_wording(cluster: Cluster) -> None:
    sim = cluster.require_sim()
    sim.controls.deny_rbac(user=cluster.other_user, verb="patch", resource="configmaps")
    cluster.api("POST", CM, body=_cm("x"))
    status, body = cluster.api("PATCH", f"{CM}/x", body={"data": {"a": "1"}},
                               content_type="application/merge-patch+json",
                               token=cluster.other_token)
    assert status == 403
    assert body["message"] == ('configmaps "x" is forbidden: User "other-user" cannot patch '
                               'resource "configmaps" in API group "" in the namespace "default"')
    status, _ = cluster.api("PATCH", f"{CM}/x", body={"data": {"a": "1"}},
                            content_type="application/merge-patch+json")
    assert status == 200, "the admin is not denied"
    sim.controls.deny_rbac(user=cluster.controller_user, verb="list", resource="nodes")
    status, body = cluster.api("GET", "/api/v1/nodes")
    assert body["message"].endswith('cannot list resource "nodes" in API group "" at the '
                                    "cluster scope")
    sim.controls.clear_rbac()


def test_request_counters(cluster: Cluster) -> None:
    sim = cluster.require_sim()
    sim.controls.reset_counts()
    cluster.api("POST", CM, body=_cm("x"))
    cluster.api("PATCH", f"{CM}/x", body={"data": {"a": "1"}},
                content_type="application/merge-patch+json", query={"dryRun": "All"})
    cluster.api("GET", CM)
    c = sim.controls
    assert c.counts(verb="create", resource="configmaps") == 1
    assert c.counts(verb="patch", dry_run=True) == 1
    assert c.counts(dry_run=False) == 2
    assert c.counts(user_agent="autopilot-tests") == 3
    assert c.counts(user_agent="kubectl") == 0
    c.reset_counts()
    assert c.counts() == 0


def test_bulk_creation_and_reset(cluster: Cluster) -> None:
    sim = cluster.require_sim()
    made = sim.create_objects(
        [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"bulk-{i}"}}
         for i in range(50)]
        + [{"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"bulk-{i}", "namespace": "default"}} for i in range(50)])
    assert made == 100
    status, nodes = cluster.api("GET", "/api/v1/nodes", query={"limit": "10"})
    assert status == 200 and nodes["metadata"]["remainingItemCount"] == 40
    sim.controls.inject_errors(status=500)
    sim.controls.deny_rbac(user="*", verb="*", resource="*")
    assert cluster.api("GET", CM)[0] == 500
    sim.controls.reset()
    assert cluster.api("GET", CM)[0] == 200
    assert sim.controls.counts() == 1
