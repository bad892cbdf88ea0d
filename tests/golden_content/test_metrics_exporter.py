"""KubeVirt Metrics Exporter: image, env overrides from the HCO annotation, and its objects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState

from .rendering import EXPORTER_IMAGE, context, make_hco, one, plan

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
    assert scc["users"] == [
        "system:serviceaccount:kubevirt-metrics-exporter:kubevirt-metrics-exporter"
    ]
    caps = set(container(golden)["securityContext"]["capabilities"]["add"])
    assert caps <= set(scc["allowedCapabilities"])
    rbac = plan(golden, "kubevirt-metrics-exporter-prometheus-rbac", ctx).objects
    assert [o["kind"] for o in rbac] == ["Role", "RoleBinding"]
    role, binding = rbac
    assert binding["subjects"][0] == {"kind": "ServiceAccount", "name": "prometheus-k8s",
                                      "namespace": "openshift-monitoring"}
    assert role["metadata"]["namespace"] == "kubevirt-metrics-exporter"
    pm = one(golden, "kubevirt-metrics-exporter-podmonitor", ctx)
    assert pm["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    rules = one(golden, "kubevirt-metrics-exporter-prometheusrule", ctx)
    alerts = [r for g in rules["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert alerts and all(a["labels"]["severity"] for a in alerts)
    assert "{{ $value }}" in alerts[0]["annotations"]["description"]
    dash = one(golden, "kubevirt-metrics-exporter-perses-dashboard", ctx)
    ds = one(golden, "kubevirt-metrics-exporter-perses-datasource", ctx)
    for panel in dash["spec"]["config"]["panels"].values():
        query = panel["spec"]["queries"][0]["spec"]["plugin"]["spec"]
        assert query["datasource"]["name"] == ds["metadata"]["name"]
