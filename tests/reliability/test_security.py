"""Security: least privilege, no secrets in any output, TLS verified, the patch guard holds.

Already covered elsewhere (not repeated here): the debug server binds to
loopback by default (tests/unit/test_web.py), the Deployment runs non-root with
a read-only root filesystem (tests/content/test_manifests.py), an untrusted server
certificate is refused by the client (tests/unit/kube/test_client_tls.py).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from kubesim.controls import Controls
from tests.reliability.conftest import StartController
from tests.support import rbac
from tests.support.controller import PROJECT, Controller
from tests.support.platform import HCO_NS, Platform
from tests.support.wait import eventually_sync
from tests.support.webhook import DenyingWebhook
from tests.support.webhook import rule as webhook_rule

ON = {"platform.kubevirt.io/autopilot": "true"}
CLUSTERROLE = PROJECT / "manifests" / "rbac" / "clusterrole.yaml"
SVC_NAME = "virt-platform-autopilot-metrics"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/{SVC_NAME}"
SM_PATH = f"/apis/monitoring.coreos.com/v1/namespaces/{HCO_NS}/servicemonitors"
PATCH = "platform.kubevirt.io/patch"
COMPLIANCE = "virt_platform_compliance_status"

# What the controller's client ever sends: SSA (patch, create on first apply), reads and
# watches, Lease updates, tombstone deletes; `use` and `bind` are held for the roles its
# assets write or bind (never `escalate`: it holds those roles' rules instead).
USED_VERBS = {"get", "list", "watch", "create", "patch", "update", "delete", "bind", "use"}
NAMED_ONLY = {"delete", "bind", "use"}


def _rules() -> list[dict[str, Any]]:
    if not CLUSTERROLE.is_file():
        pytest.skip("manifests/rbac/clusterrole.yaml not generated yet")
    docs = [d for d in YAML(typ="safe", pure=True).load_all(CLUSTERROLE.read_text()) if d]
    [role] = docs
    return list(role["rules"])


def test_clusterrole_has_no_wildcards_and_no_unused_verbs() -> None:
    problems = []
    for rule in _rules():
        fields = ("apiGroups", "resources", "verbs", "resourceNames")
        if any("*" in str(v) for f in fields for v in rule.get(f, [])):
            problems.append(f"wildcard in {rule}")
        if rule.get("nonResourceURLs"):
            problems.append(f"non-resource URLs in {rule}")
        if set(rule["verbs"]) - USED_VERBS:
            problems.append(f"verbs {set(rule['verbs']) - USED_VERBS} in {rule}")
        if set(rule["verbs"]) & NAMED_ONLY and not rule.get("resourceNames"):
            problems.append(f"{set(rule['verbs']) & NAMED_ONLY} without resourceNames in {rule}")
        if {"secrets", "pods/exec", "serviceaccounts/token", "users", "groups"} & set(
            rule.get("resources", [])
        ):
            problems.append(f"sensitive resource in {rule}")
    assert problems == []


def test_clusterrole_grants_update_only_beside_patch() -> None:
    # The controller PUTs only its Lease (granted by the namespaced leader-election Role,
    # not here). The ClusterRole grants update for the seed runbook's `kubectl auth can-i
    # update` check, which the contract says must work, and only where patch, which can
    # set every field update can, is granted too.
    extra = [r for r in _rules() if "update" in r["verbs"] and "patch" not in r["verbs"]]
    assert extra == []
    assert not [r for r in _rules() if "leases" in r.get("resources", [])]


# -- nothing secret in logs, metrics or debug output ------------------------------------------

# A golden state that reads a credential-shaped value: the shipped one plus an asset whose
# template reads it through a live lookup (a labelled ConfigMap, so it is in the
# controller's watch cache too: the shipped role grants nothing on Secrets) and writes
# only whether it is set and its length, so no output has a reason to carry it.
CREDENTIALS = "autopilot-credentials"
PROBE = "autopilot-credential-probe"
PROBE_CATALOG = """\
features:
  - name: credential-probe
    title: Credential probe
    description: Reads a credential through a lookup; writes only whether it is set.
    maturity: TP
    switch: always
    assets: [credential-probe]
    groups: []
    requires: []
    recommended: []
assets:
  - name: credential-probe
    path: assets/credential-probe/configmap.yaml.j2
    order: 990
"""
PROBE_TEMPLATE = """\
{%- set credential = configmap_value(namespace, "autopilot-credentials", "password", "") -%}
apiVersion: v1
kind: ConfigMap
metadata:
  name: autopilot-credential-probe
  namespace: {{ namespace }}
data:
  credential: "{{ 'set' if credential else 'unset' }}"
  length: "{{ credential | length }}"
"""
DEBUG_PATHS = ("/debug/render", "/debug/exclusions", "/debug/features", "/debug/tombstones",
               f"/debug/explain/Service/{HCO_NS}/{SVC_NAME}",
               f"/debug/explain/ConfigMap/{HCO_NS}/{PROBE}")


def _probe_golden_state(tmp: Path) -> Path:
    root = tmp / "golden_state"
    shutil.copytree(PROJECT / "golden_state", root)
    (root / "catalog" / "credential-probe.yaml").write_text(PROBE_CATALOG)
    (root / "assets" / "credential-probe").mkdir()
    (root / "assets" / "credential-probe" / "configmap.yaml.j2").write_text(PROBE_TEMPLATE)
    return root


def _outputs(c: Controller) -> dict[str, str]:
    texts = {"log": c.log_text(), "/metrics": c.metrics_text()}
    for path in DEBUG_PATHS:
        status, text = c.http(c.debug_port, path)
        assert status == 200, (path, status, text)
        texts[path] = text
    return texts


def _unauthorized_outputs(d: Controller) -> dict[str, str]:
    """What a controller that never got past a 401 answers, asserted; the texts by endpoint.

    /metrics is served and counts the refused requests; nothing was read, so there is
    no compliance series, nothing rendered, no feature and no managed object to explain.
    """
    metrics = d.metrics_text()
    refused = sum(v for labels, v in d.series("virt_platform_api_requests_total").items()
                  if ("code", "401") in labels)
    assert refused >= 1, metrics
    assert not d.series("virt_platform_compliance_status"), metrics
    texts = {"log": d.log_text(), "/metrics": metrics}
    expected = {"/debug/render": (200, ""), "/debug/exclusions": (200, "[]\n")}
    for path in DEBUG_PATHS:
        status, text = d.http(d.debug_port, path)
        texts[path] = text
        if path in expected:
            assert (status, text) == expected[path], (path, status, text)
        elif path == "/debug/features":
            # Not "not found": nothing was ever discovered or listed, and it says so.
            assert status == 200 and YAML(typ="safe").load(text) == {"assets": [], "hco": (
                "unknown: the HyperConverged is not watched yet (its kind was not "
                "discovered; the log says why)")}, text
        elif path == "/debug/tombstones":
            # The golden state's tombstones, none of them looked at.
            assert status == 200 and "kind: NodeHealthCheck" in text, text
            assert "status: null" in text and "status: deleted" not in text, text
        else:
            kind, namespace, name = path.split("/")[-3:]
            assert (status, text) == (
                404, f"no managed {kind} '{name}' in namespace {namespace}\n"), (path, text)
    return texts


@pytest.mark.fresh_server("compacts etcd: reconnects get 410", compaction=True)
@pytest.mark.timeout(150)
def test_no_token_or_secret_value_in_any_output(platform: Platform,
                                                controller: StartController,
                                                cluster: Any, faults: Controls,
                                                webhook: DenyingWebhook,
                                                tmp_path: Path) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    platform.ensure_namespace(HCO_NS)
    status, _ = cluster.api("POST", f"/api/v1/namespaces/{HCO_NS}/configmaps", body={
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": CREDENTIALS, "labels": {
            "platform.kubevirt.io/managed-by": "virt-platform-autopilot"},
            "annotations": {"note": secret}},
        "data": {"password": secret}})
    assert status == 201
    platform.create_hco(ON)
    golden = _probe_golden_state(tmp_path)

    # Failures of every sort while it reconciles: each path that logs an error runs. The
    # denials are real: a validating webhook, and the shipped role minus one permission.
    webhook.deny("ServiceMonitor", "frozen by policy")
    webhook.register(cluster, "freeze.autopilot.test",
                     rules=[webhook_rule("monitoring.coreos.com", "servicemonitors")])
    webhook.wait_in_force(cluster, "POST", SM_PATH, {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": "probe"}, "spec": {"selector": {}, "endpoints": []}})
    rbac.grant(cluster, edit=lambda role: rbac.without(
        role, group="monitoring.coreos.com", resource="prometheusrules", verb="patch"),
        golden=golden)
    faults.inject_errors(status=500, verb="patch", resource="services", count=2)
    # Throttled watches (the informers' first requests: they list by streaming).
    faults.inject_errors(status=429, verb="watch", count=2, retry_after=1)
    c = controller("--golden-state", str(golden))
    # The value really went through the controller: read by the lookup, used by the render.
    probe = f"/api/v1/namespaces/{HCO_NS}/configmaps/{PROBE}"
    eventually_sync(lambda: (platform.get(probe) or {}).get("data") == {
        "credential": "set", "length": str(len(secret))}, timeout=30,
        what="the probe rendered from the credential")
    eventually_sync(lambda: c.log_lines("failed to apply", kind="ServiceMonitor")
                    and c.log_lines("failed to apply", kind="PrometheusRule"),
                    timeout=30, what="denials logged")
    faults.compact()
    faults.drop_watches()
    webhook.allow_all()
    rbac.grant(cluster, golden=golden)
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="PrometheusRule") == 1, timeout=40,
                    what="recovered")

    # A second controller whose token the server does not know: every call is a 401.
    bad = f"tok-{uuid.uuid4().hex}"
    kubeconfig = rbac.service_account_kubeconfig(cluster)
    wrong = cluster.workdir / "kubeconfig-wrong"
    wrong.write_text(kubeconfig.read_text().replace(cluster.sa_token, bad))
    d = controller("--golden-state", str(golden), kubeconfig=wrong, wait=False)
    eventually_sync(lambda: "Unauthorized" in d.log_text(),
                    timeout=30, what="401 logged")

    faults.clear_errors()  # what the controllers left unspent must not fail this read
    status, events = cluster.api("GET", f"/api/v1/namespaces/{HCO_NS}/events")
    assert status == 200
    needles = (cluster.sa_token, bad, secret, base64.b64encode(secret.encode()).decode())
    for who, texts in (("controller", _outputs(c)), ("401 controller", _unauthorized_outputs(d)),
                       ("events", {"events": json.dumps(events)})):
        for where, text in texts.items():
            for needle in needles:
                assert needle not in text, f"{needle[:8]}... leaked by the {who}: {where}"
            assert "Traceback" not in text, (who, where)


# -- TLS: the controller process refuses a server it cannot verify ---------------------------


def _other_ca(tmp: Path) -> bytes:
    key, cert = tmp / "other.key", tmp / "other.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=other-ca",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert.read_bytes()


def test_controller_refuses_an_api_server_it_cannot_verify(tmp_path: Path, cluster: Any,
                                                           controller: StartController,
                                                           faults: Controls) -> None:
    doc = json.loads(cluster.kubeconfig.read_text())
    doc["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(
        _other_ca(tmp_path)).decode()
    kubeconfig = tmp_path / "kubeconfig-untrusted"
    kubeconfig.write_text(json.dumps(doc))
    faults.reset_counts()
    c = controller(kubeconfig=kubeconfig, wait=False)
    eventually_sync(lambda: "certificate verify failed" in c.log_text().lower()
                    or "certificate_verify_failed" in c.log_text().lower(),
                    timeout=30, what="a clear certificate error in the log")
    assert c.http(c.health_port, "/readyz")[0] != 200
    # Not one request got through: the token never left the process.
    assert faults.counts(user_agent="virt-platform-autopilot") == 0


# -- the patch guard, end to end through a live object ---------------------------------------

EVIL = {"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "evil", "namespace": HCO_NS}, "spec": {}}
BYPASSES = [
    [{"op": "replace", "path": "/metadata", "value": {"name": "evil", "namespace": HCO_NS}}],
    [{"op": "add", "path": "", "value": EVIL}],
    [{"op": "remove", "path": "/metadata"}],
    [{"op": "move", "from": "/metadata/name", "path": "/metadata/labels/x"}],
    [{"op": "copy", "from": "/spec/selector/app", "path": "/metadata/name"}],
    [{"op": "move", "from": "/metadata", "path": "/spec/m"}],
    [{"op": "replace", "path": "/metadata/namespace", "value": "default"}],
    [{"op": "add", "path": "/metadata/managedFields", "value": []}],
    [{"op": "replace", "path": "/kind", "value": "ConfigMap"}],
    [{"op": "replace", "path": "/apiVersion", "value": "v2"}],
    [{"op": "add", "path": "/status", "value": {"loadBalancer": {}}}],
    [{"op": "replace", "path": "/metadata/name/", "value": "evil"}],
    [{"op": "add", "path": "/metadata/../metadata/name", "value": "evil"}],
    [{"op": "add", "path": "/metadata/labels/ok", "value": "1"},
     {"op": "replace", "path": "/metadata/name", "value": "evil"}],
]
# JSON escapes decode to a protected path: the guard must see the decoded text.
RAW_BYPASSES = ['[{"op": "replace", "path": "/metadat\\u0061/name", "value": "evil"}]',
                '[{"op": "replace", "path": "\\/metadata\\/name", "value": "evil"}]']


@pytest.mark.timeout(120)
def test_patch_guard_holds_on_a_live_object(platform: Platform,
                                            controller: StartController) -> None:
    platform.create_hco(ON)
    c = controller()
    platform.wait_for(SVC, what="metrics Service")
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME) == 1,
                    what="Service compliant")
    # Startup's passes may apply the Service once more; a resync pass means they are over.
    eventually_sync(lambda: c.log_lines("resync"), timeout=15, what="a resync pass")
    applied_before = len(c.log_lines("successfully applied", kind="Service", name=SVC_NAME))
    for text in [json.dumps(b) for b in BYPASSES] + RAW_BYPASSES:
        seen = len(c.log_lines("invalid patch annotation", name=SVC_NAME))
        platform.patch(SVC, {"metadata": {"annotations": {PATCH: text}}})
        eventually_sync(lambda s=seen: len(c.log_lines("invalid patch annotation",
                                                       name=SVC_NAME)) > s,
                        what=f"refusal of {text}")
        line = c.log_lines("invalid patch annotation", name=SVC_NAME)[-1]
        assert "forbidden path" in line["error"], (text, line)
    live = platform.get(SVC)
    assert live is not None and live["kind"] == "Service"
    assert live["metadata"]["namespace"] == HCO_NS
    for path in (f"/api/v1/namespaces/{HCO_NS}/services/evil",
                 f"/api/v1/namespaces/default/services/{SVC_NAME}",
                 f"/api/v1/namespaces/{HCO_NS}/configmaps/{SVC_NAME}"):
        assert platform.get(path) is None, f"{path} was created"
    # Refused patches change nothing: no write to the Service at all.
    applied = c.log_lines("successfully applied", kind="Service", name=SVC_NAME)
    assert len(applied) == applied_before, [line for line in c.logs()
                                            if line.get("name") == SVC_NAME]
    assert not [line for line in c.log_lines("successfully applied") if line["name"] == "evil"]
    assert c.http(c.health_port, "/healthz")[0] == 200
