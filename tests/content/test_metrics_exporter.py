"""KubeVirt Metrics Exporter: image, env overrides from the HCO annotation, and its objects."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from tests.support.rendering import EXPORTER_IMAGE, context, make_hco, one, plan

P = "platform.kubevirt.io/"
ENV_ANNOTATION = P + "kubevirt-metrics-exporter-env"


def hco(env: str | None = None) -> dict[str, Any]:
    annotations = {P + "enable-kubevirt-metrics-exporter": "true"}
    if env is not None:
        annotations[ENV_ANNOTATION] = env
    return make_hco(annotations)


def container(golden: GoldenState, env: str | None = None) -> dict[str, Any]:
    ds = one(golden, "kubevirt-metrics-exporter-daemonset", context(hco(env)))
    assert ds["kind"] == "DaemonSet"
    pod = ds["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kubevirt-metrics-exporter" and pod["hostPID"] is True
    return pod["containers"][0]  # type: ignore[no-any-return]


def env_map(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def test_image_and_default_env(golden: GoldenState) -> None:
    c = container(golden)
    assert c["image"] == EXPORTER_IMAGE
    env = env_map(c)
    assert env["NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["LOG_LEVEL"] == "info" and env["ENABLE_EBPF"] == "true"
    # The dashboard's KVM panels and the overhead alerts need these collectors.
    assert (env["ENABLE_KVM"], env["KVM_POLL_INTERVAL"]) == ("true", "30s")
    assert (env["ENABLE_CGROUP"], env["CGROUP_POLL_INTERVAL"]) == ("true", "30s")
    assert all(isinstance(v, str) for k, v in env.items() if k != "NODE_NAME")


def test_env_overrides_and_additions(golden: GoldenState) -> None:
    overrides = {"LOG_LEVEL": "debug", "QMP_POLL_INTERVAL": "30s", "EXTRA_FLAG": True,
                 "MAX_ITEMS": 7, "NODE_NAME": "sneaky"}
    c = container(golden, json.dumps(overrides))
    env = env_map(c)
    assert env["LOG_LEVEL"] == "debug" and env["QMP_POLL_INTERVAL"] == "30s"
    assert env["EXTRA_FLAG"] == "true" and env["MAX_ITEMS"] == "7"
    assert env["NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    names = [e["name"] for e in c["env"]]
    assert len(names) == len(set(names))
    assert names.index("LOG_LEVEL") < names.index("EXTRA_FLAG")  # defaults keep their place


@pytest.mark.parametrize("bad", ['{"LOG_LEVEL": ', "not json", "{'single': 'quotes'}"])
def test_bad_json_is_a_render_error_naming_the_annotation(golden: GoldenState, bad: str) -> None:
    result = plan(golden, "kubevirt-metrics-exporter-daemonset", context(hco(bad)))
    assert result.included and not result.objects
    assert result.error is not None
    assert f"annotation {ENV_ANNOTATION}" in result.error
    assert "\n" not in result.error


@pytest.mark.parametrize("not_object", ['["LOG_LEVEL=debug"]', '"debug"', "42"])
def test_json_that_is_not_an_object_is_a_render_error(
    golden: GoldenState, not_object: str
) -> None:
    result = plan(golden, "kubevirt-metrics-exporter-daemonset", context(hco(not_object)))
    assert result.error is not None and ENV_ANNOTATION in result.error


def test_empty_annotation_means_defaults(golden: GoldenState) -> None:
    assert env_map(container(golden, "  "))["LOG_LEVEL"] == "info"


def test_scc_rbac_and_scraping(golden: GoldenState) -> None:
    ctx = context(hco())
    ns = one(golden, "kubevirt-metrics-exporter-namespace", ctx)
    assert ns["metadata"]["labels"]["openshift.io/cluster-monitoring"] == "true"
    scc = one(golden, "kubevirt-metrics-exporter-scc", ctx)
    assert scc["apiVersion"] == "security.openshift.io/v1"
    assert scc["allowHostPID"] is True and scc["allowPrivilegedContainer"] is False
    assert scc["seLinuxContext"] == {"type": "MustRunAs"}
    assert "users" not in scc and "groups" not in scc  # granted through RBAC "use"
    role = one(golden, "kubevirt-metrics-exporter-scc-clusterrole", ctx)
    assert role["kind"] == "ClusterRole" and role["rules"] == [{
        "apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"],
        "resourceNames": [scc["metadata"]["name"]], "verbs": ["use"]}]
    use = one(golden, "kubevirt-metrics-exporter-scc-rolebinding", ctx)
    assert use["kind"] == "RoleBinding"
    assert use["metadata"]["namespace"] == "kubevirt-metrics-exporter"
    assert use["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": role["metadata"]["name"]}
    assert use["subjects"] == [{"kind": "ServiceAccount", "name": "kubevirt-metrics-exporter",
                                "namespace": "kubevirt-metrics-exporter"}]
    caps = set(container(golden)["securityContext"]["capabilities"]["add"])
    assert caps <= set(scc["allowedCapabilities"])
    rbac = plan(golden, "kubevirt-metrics-exporter-prometheus-rbac", ctx).objects
    assert [o["kind"] for o in rbac] == ["Role", "RoleBinding"]
    role, binding = rbac
    assert binding["subjects"][0] == {"kind": "ServiceAccount", "name": "prometheus-k8s",
                                      "namespace": "openshift-monitoring"}
    assert role["metadata"]["namespace"] == "kubevirt-metrics-exporter"
    pm = one(golden, "kubevirt-metrics-exporter-podmonitor", ctx)
    endpoint = pm["spec"]["podMetricsEndpoints"][0]
    assert endpoint["port"] == "metrics" and endpoint["honorLabels"] is True
    assert pm["spec"]["jobLabel"] == "app"
    rules = one(golden, "kubevirt-metrics-exporter-prometheusrule", ctx)
    groups = {g["name"]: [r["alert"] for r in g["rules"] if "alert" in r]
              for g in rules["spec"]["groups"]}
    assert [len(a) for a in groups.values()] == [8, 2, 12]
    alerts = [r for g in rules["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert len({a["alert"] for a in alerts}) == 22
    assert all(a["labels"]["severity"] in ("warning", "critical") for a in alerts)
    assert all(set(a["annotations"]) == {"summary", "description"} for a in alerts)


def test_dashboard_and_datasource(golden: GoldenState) -> None:
    ctx = context(hco())
    dash = one(golden, "kubevirt-metrics-exporter-perses-dashboard", ctx)
    ds = one(golden, "kubevirt-metrics-exporter-perses-datasource", ctx)
    proxy = ds["spec"]["config"]["plugin"]["spec"]["proxy"]["spec"]
    assert proxy["secret"] == "thanos-querier-secret"
    config = dash["spec"]["config"]
    assert len(config["panels"]) == 13
    names = [v["spec"]["name"] for v in config["variables"]]
    assert names == ["node", "namespace", "vm", "disk", "pvc", "operation", "interval"]
    queries = []
    for panel in config["panels"].values():
        query = panel["spec"]["queries"][0]["spec"]["plugin"]["spec"]
        assert query["datasource"]["name"] == ds["metadata"]["name"]
        queries.append(query["query"])
    text = " ".join(queries)
    for metric in ("kubevirt_vmi_kvm_exits_total", "kubevirt_vmi_kvm_hypercalls_total",
                   "kme_cgroup_ksmd_cpu_seconds_total", "kubevirt_vmi_storage_queue_inuse"):
        assert metric in text
    used = set(re.findall(r"\$(\w+)", text))
    assert used == set(names), used ^ set(names)
    items = config["layouts"][0]["spec"]["items"]
    assert {i["content"]["$ref"].rsplit("/", 1)[1] for i in items} == set(config["panels"])
