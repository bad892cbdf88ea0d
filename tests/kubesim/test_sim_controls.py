"""The fault controls: kubesim's own, and the fault proxy's in front of a real server.

The same assertions hold in both worlds: a test written against ``faults`` sees
the same answers whichever server is behind it. Admission and RBAC denials are
real against a real server (a validating webhook, an identity without a grant);
kubesim's shortcuts for them must word their answers the same way.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from kubesim.controls import Controls
from tests.support.cluster import Cluster
from tests.support.wait import eventually_sync
from tests.support.webhook import DenyingWebhook, rule


def _cm(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}}


def _base(cluster: Cluster) -> str:
    return f"/api/v1/namespaces/{cluster.new_namespace()}/configmaps"


def test_error_injection_next_n_with_retry_after(cluster: Cluster, faults: Controls) -> None:
    cm = _base(cluster)
    faults.inject_errors(status=429, verb="list", resource="configmaps", count=2,
                         retry_after=3)
    status, body = cluster.api("GET", cm)
    assert status == 429 and body["reason"] == "TooManyRequests"
    assert body["details"]["retryAfterSeconds"] == 3
    assert cluster.api("GET", cm)[0] == 429
    assert cluster.api("GET", cm)[0] == 200
    assert cluster.api("GET", "/api/v1/namespaces")[0] == 200
    faults.inject_errors(status=503, verb="create")
    status, body = cluster.api("POST", cm, body=_cm("x"))
    assert status == 503 and body["reason"] == "ServiceUnavailable"
    faults.clear_errors()
    assert cluster.api("POST", cm, body=_cm("x"))[0] == 201


def test_discovery_goes_through_faults_and_counters(cluster: Cluster, faults: Controls) -> None:
    faults.reset_counts()
    faults.inject_errors(status=503, resource="", count=1)
    assert cluster.api("GET", "/apis")[0] == 503
    assert cluster.api("GET", "/apis")[0] == 200
    assert cluster.api("GET", "/api/v1")[0] == 200
    assert faults.counts(verb="get", resource="", user_agent="autopilot-tests") == 3


def test_groups_hidden_from_discovery_lists_are_served_all_the_same(
        cluster: Cluster, faults: Controls) -> None:
    aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

    def listed() -> tuple[set[str], set[str]]:
        _, doc = cluster.api("GET", "/apis", accept=aggregated)
        _, legacy = cluster.api("GET", "/apis")
        return ({i["metadata"]["name"] for i in doc["items"]},
                {g["name"] for g in legacy["groups"]})

    rbac = "rbac.authorization.k8s.io"
    assert all({"apps", rbac} <= names for names in listed())
    faults.hide_from_discovery("apps")
    assert all("apps" not in names and rbac in names for names in listed())
    assert cluster.api("GET", "/apis/apps/v1")[0] == 200
    assert cluster.api("GET", "/apis/apps/v1/deployments")[0] == 200
    faults.hide_from_discovery()
    assert all({"apps", rbac} <= names for names in listed())


def test_hanging_requests_time_out_on_the_client(cluster: Cluster, faults: Controls) -> None:
    cm = _base(cluster)
    faults.inject_errors(verb="get", resource="configmaps", hang=True, count=1)
    started = time.monotonic()
    try:
        cluster.api("GET", f"{cm}/x", timeout=0.5)
    except TimeoutError:
        pass
    else:
        raise AssertionError("the request was answered")
    assert time.monotonic() - started < 5
    assert cluster.api("GET", f"{cm}/x")[0] == 404


def test_connection_reset(cluster: Cluster, faults: Controls) -> None:
    cm = _base(cluster)
    faults.inject_errors(verb="get", resource="configmaps", reset=True, count=1)
    try:
        cluster.api("GET", f"{cm}/x", timeout=5)
    except (ConnectionError, OSError) as exc:
        assert not isinstance(exc, TimeoutError), exc
    else:
        raise AssertionError("the request was answered")
    assert cluster.api("GET", f"{cm}/x")[0] == 404


def test_latency_is_injected_per_verb(cluster: Cluster, faults: Controls) -> None:
    cm = _base(cluster)
    faults.set_latency(0.3, verb="list", resource="configmaps")
    started = time.monotonic()
    cluster.api("GET", cm)
    assert time.monotonic() - started >= 0.3
    faults.clear_latency()


def test_a_late_answer_comes_after_the_write_is_visible(cluster: Cluster,
                                                       faults: Controls) -> None:
    cm = _base(cluster)
    faults.delay_answers(1.0, verb="create", resource="configmaps")
    answered: list[float] = []

    def create() -> None:
        status, body = cluster.api("POST", cm, body=_cm("x"))
        assert status == 201, body
        answered.append(time.monotonic())

    writer = threading.Thread(target=create)
    writer.start()
    try:
        eventually_sync(lambda: cluster.api("GET", f"{cm}/x")[0] == 200, timeout=10,
                        what="the created ConfigMap readable")
        seen = time.monotonic()
    finally:
        writer.join(timeout=30)
    assert answered and answered[0] - seen >= 0.5, (answered, seen)
    # Reads are not held back.
    started = time.monotonic()
    assert cluster.api("GET", f"{cm}/x")[0] == 200
    assert time.monotonic() - started < 0.5


def test_admission_denial_looks_like_a_webhook(cluster: Cluster, faults: Controls,
                                               webhook: DenyingWebhook) -> None:
    cm = _base(cluster)
    if cluster.sim is not None:  # kubesim's shortcut, no webhook called
        faults.deny_admission(kind="ConfigMap", message="configmaps are frozen",
                              webhook="freeze.example.com")
    else:
        webhook.deny("ConfigMap", "configmaps are frozen")
        webhook.register(cluster, "freeze.example.com", rules=[rule("", "configmaps")],
                         namespace=cm.split("/")[4])
        webhook.wait_in_force(cluster, "POST", cm, _cm("probe"))
    status, body = cluster.api("POST", cm, body=_cm("x"))
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('admission webhook "freeze.example.com" denied the request: '
                               "configmaps are frozen")
    status, _ = cluster.api("POST", cm, body=_cm("x"), query={"dryRun": "All"})
    assert status == 403, "webhooks see dry runs too"
    faults.clear_admission()
    webhook.allow_all()
    assert cluster.api("POST", cm, body=_cm("x"))[0] == 201


def test_rbac_denial_wording(cluster: Cluster, faults: Controls) -> None:
    cm = _base(cluster)
    ns = cm.split("/")[4]
    cluster.api("POST", cm, body=_cm("x"))
    patch = {"data": {"a": "1"}}
    merge = "application/merge-patch+json"
    status, body = cluster.api("PATCH", f"{cm}/x", body=patch, content_type=merge,
                               token=cluster.limited_token)
    assert status == 403
    assert body["message"] == (f'configmaps "x" is forbidden: User "{cluster.limited_user}" '
                               'cannot patch resource "configmaps" in API group "" in the '
                               f'namespace "{ns}"')
    status, body = cluster.api("GET", "/api/v1/nodes", token=cluster.limited_token)
    assert status == 403 and body["message"].endswith(
        'cannot list resource "nodes" in API group "" at the cluster scope')
    assert cluster.api("PATCH", f"{cm}/x", body=patch, content_type=merge)[0] == 200
    if cluster.sim is not None:
        # kubesim's shortcut refuses even a superuser, worded as RBAC words it.
        faults.deny_rbac(user=cluster.other_user, verb="patch", resource="configmaps")
        status, body = cluster.api("PATCH", f"{cm}/x", body=patch, content_type=merge,
                                   token=cluster.other_token)
        assert status == 403 and body["message"] == (
            f'configmaps "x" is forbidden: User "{cluster.other_user}" cannot patch resource '
            f'"configmaps" in API group "" in the namespace "{ns}"')
        faults.clear_rbac()


def test_request_counters(cluster: Cluster, faults: Controls) -> None:
    cm = _base(cluster)
    faults.reset_counts()
    before = cluster.request_counts(user_agent="autopilot-tests")
    cluster.api("POST", cm, body=_cm("x"))
    cluster.api("PATCH", f"{cm}/x", body={"data": {"a": "1"}},
                content_type="application/merge-patch+json", query={"dryRun": "All"})
    cluster.api("GET", cm)
    # What the server itself counted (kubesim; a real server's audit log) agrees.
    expected = Counter({("create", "configmaps", False): 1, ("patch", "configmaps", True): 1,
                        ("list", "configmaps", False): 1})
    eventually_sync(lambda: cluster.request_counts(user_agent="autopilot-tests") - before
                    == expected, what="the server's own count")
    assert faults.counts(verb="create", resource="configmaps") == 1
    assert faults.counts(verb="patch", dry_run=True) == 1
    assert faults.counts(dry_run=False) == 2
    assert faults.counts(user_agent="autopilot-tests") == 3
    assert faults.counts(user_agent="kubectl") == 0
    faults.reset_counts()
    assert faults.counts() == 0


def test_bulk_creation_and_reset(cluster: Cluster, faults: Controls) -> None:
    cm = _base(cluster)
    ns = cm.split("/")[4]
    objects = [{"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"bulk-{i}", "namespace": ns}} for i in range(50)]
    if cluster.sim is not None:  # kubesim fills a cluster without HTTP (benchmarks)
        assert cluster.sim.create_objects(objects) == 50
    else:
        for obj in objects:
            assert cluster.api("POST", cm, body=obj)[0] == 201
    status, page = cluster.api("GET", cm, query={"limit": "10"})
    assert status == 200 and page["metadata"]["remainingItemCount"] == 40
    faults.inject_errors(status=500)
    if cluster.sim is not None:
        faults.deny_rbac(user="*", verb="*", resource="*")
    assert cluster.api("GET", cm)[0] == 500
    faults.reset()
    assert cluster.api("GET", cm)[0] == 200
    assert faults.counts() == 1
