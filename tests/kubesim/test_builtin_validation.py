"""Semantic validation of the built-in kinds we write, as the real server words it.

Each case is refused with the same causes by kubesim and a real kube-apiserver
(the expected causes were recorded against v1.36).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.cluster import Cluster

RBAC = "rbac.authorization.k8s.io"
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
             "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
             "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, "
             "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
             "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
             "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
NAME_PART_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                 "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
                 "or '123-abc', regex used for validation is "
                 "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
RANGE = "must be between 1 and 65535, inclusive"
TEMPLATE = {"metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
ROLE_REF = {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"}
SA = {"kind": "ServiceAccount", "name": "x", "namespace": "default"}


def inv(field: str, message: str) -> tuple[str, str, str]:
    return field, "FieldValueInvalid", f"Invalid value: {message}"


def req(field: str, detail: str = "") -> tuple[str, str, str]:
    return field, "FieldValueRequired", f"Required value: {detail}" if detail else "Required value"


def unsup(field: str, value: str, choices: str) -> tuple[str, str, str]:
    return field, "FieldValueNotSupported", f"Unsupported value: {value}: supported values: " \
        f"{choices}"


def dup(field: str, value: str) -> tuple[str, str, str]:
    return field, "FieldValueDuplicate", f"Duplicate value: {value}"


def svc(**spec: Any) -> tuple[str, dict[str, Any]]:
    return "services", {"apiVersion": "v1", "kind": "Service", "spec": spec}


def ds(**spec: Any) -> tuple[str, dict[str, Any]]:
    return "daemonsets", {"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": spec}


def pod(containers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": containers, **extra}}


def rules(kind: str, *items: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return kind.lower() + "s", {"apiVersion": f"{RBAC}/v1", "kind": kind, "rules": list(items)}


def binding(kind: str, ref: dict[str, Any], *subjects: dict[str, Any]
            ) -> tuple[str, dict[str, Any]]:
    return kind.lower() + "s", {"apiVersion": f"{RBAC}/v1", "kind": kind, "roleRef": ref,
                                "subjects": list(subjects)}


def cm(**fields: Any) -> tuple[str, dict[str, Any]]:
    return "configmaps", {"apiVersion": "v1", "kind": "ConfigMap", **fields}


SEL = {"matchLabels": {"a": "b"}}
CASES: dict[str, tuple[tuple[str, dict[str, Any]], list[tuple[str, str, str]]]] = {
    "service port out of range": (svc(ports=[{"port": 70000}]), [
        inv("spec.ports[0].port", f"70000: {RANGE}"),
        inv("spec.ports[0].targetPort", f"70000: {RANGE}")]),
    "service without ports": (svc(selector={"a": "b"}), [req("spec.ports")]),
    "service protocol": (svc(ports=[{"port": 80, "protocol": "HTTP"}]), [
        unsup("spec.ports[0].protocol", '"HTTP"', '"SCTP", "TCP", "UDP"')]),
    "service ports unnamed": (svc(ports=[{"port": 80}, {"port": 81}]), [
        req("spec.ports[0].name"), req("spec.ports[1].name")]),
    "service port names repeat": (svc(ports=[{"name": "a", "port": 80},
                                             {"name": "a", "port": 81}]), [
        dup("spec.ports[1].name", '"a"')]),
    "service ports repeat": (svc(ports=[{"name": "a", "port": 80}, {"name": "b", "port": 80}]), [
        dup("spec.ports[1]", '{"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,'
                             '"TargetPort":0,"NodePort":0}')]),
    "service port name": (svc(ports=[{"name": "Bad_Name", "port": 80}]), [
        inv("spec.ports[0].name", f'"Bad_Name": {LABEL_MSG}')]),
    "service selector value": (svc(ports=[{"port": 80}], selector={"a": "b c"}), [
        inv("spec.selector", f'"b c": {VALUE_MSG}')]),
    "service selector key": (svc(ports=[{"port": 80}], selector={"a b": "c"}), [
        inv("spec.selector", f'"a b": {NAME_PART_MSG}')]),
    "service type": (svc(ports=[{"port": 80}], type="Foo"), [
        unsup("spec.type", '"Foo"', '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"')]),
    "service target port name": (svc(ports=[{"port": 80, "targetPort": "Bad_Name"}]), [
        inv("spec.ports[0].targetPort",
            '"Bad_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)')]),
    "service node port on ClusterIP": (svc(ports=[{"port": 80, "nodePort": 30000}]), [
        ("spec.ports[0].nodePort", "FieldValueForbidden",
         "Forbidden: may not be used when `type` is 'ClusterIP'")]),
    "service node port range": (svc(type="NodePort", ports=[{"port": 80, "nodePort": 10}]), [
        inv("spec.ports[0].nodePort", "10: provided port is not in the valid range. The range "
                                      "of valid ports is 30000-32767")]),
    "service, many at once": (svc(ports=[{"port": 0, "protocol": "HTTP"}], type="Foo",
                                  selector={"a": "b c"}), [
        inv("spec.ports[0].port", f"0: {RANGE}"),
        unsup("spec.ports[0].protocol", '"HTTP"', '"SCTP", "TCP", "UDP"'),
        inv("spec.ports[0].targetPort", f"0: {RANGE}"),
        inv("spec.selector", f'"b c": {VALUE_MSG}'),
        unsup("spec.type", '"Foo"', '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"')]),
    "daemonset without selector": (ds(template=TEMPLATE), [
        inv("spec.template.metadata.labels",
            '{"a":"b"}: `selector` does not match template `labels`')]),
    "daemonset empty selector": (ds(selector={}, template=TEMPLATE), [
        inv("spec.selector", "{}: empty selector is invalid for daemonset")]),
    "daemonset without containers": (ds(selector=SEL, template=pod([])), [
        req("spec.template.spec.containers")]),
    "daemonset container port": (ds(selector=SEL, template=pod(
        [{"name": "c", "image": "x", "ports": [{"containerPort": 70000}]}])), [
        inv("spec.template.spec.containers[0].ports[0].containerPort", f"70000: {RANGE}")]),
    "daemonset container names repeat": (ds(selector=SEL, template=pod(
        [{"name": "c", "image": "x"}, {"name": "c", "image": "y"}])), [
        dup("spec.template.spec.containers[1].name", '"c"')]),
    "daemonset update strategy": (ds(selector=SEL, template=TEMPLATE,
                                     updateStrategy={"type": "Foo"}), [
        unsup("spec.updateStrategy", '{"Type":"Foo","RollingUpdate":null}',
              '"RollingUpdate", "OnDelete"')]),
    "daemonset, many at once": (ds(selector={"matchLabels": {"a": "c"}},
                                   template=pod([{"name": "C_1"}], restartPolicy="Never")), [
        inv("spec.template.metadata.labels",
            '{"a":"b"}: `selector` does not match template `labels`'),
        inv("spec.template.spec.containers[0].name", f'"C_1": {LABEL_MSG}'),
        req("spec.template.spec.containers[0].image"),
        unsup("spec.template.spec.restartPolicy", '"Never"', '"Always"')]),
    "clusterrole without verbs": (rules("ClusterRole", {"apiGroups": [""],
                                                        "resources": ["pods"]}), [
        req("rules[0].verbs", "verbs must contain at least one value")]),
    "clusterrole without groups": (rules("ClusterRole", {"resources": ["pods"],
                                                         "verbs": ["get"]}), [
        req("rules[0].apiGroups", "resource rules must supply at least one api group")]),
    "clusterrole without resources": (rules("ClusterRole", {"apiGroups": [""],
                                                            "verbs": ["get"]}), [
        req("rules[0].resources", "resource rules must supply at least one resource")]),
    "clusterrole mixing URLs and resources": (rules("ClusterRole", {
        "apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "nonResourceURLs": ["/x"]}), [
        inv("rules[0].nonResourceURLs",
            '["/x"]: rules cannot apply to both regular resources and non-resource URLs')]),
    "role with URLs": (rules("Role", {"nonResourceURLs": ["/x"], "verbs": ["get"]}), [
        inv("rules[0].nonResourceURLs", '["/x"]: namespaced rules cannot apply to '
                                        "non-resource URLs")]),
    "clusterrolebinding to a Role": (binding("ClusterRoleBinding", {**ROLE_REF, "kind": "Role"},
                                             SA), [
        unsup("roleRef.kind", '"Role"', '"ClusterRole"')]),
    "clusterrolebinding group": (binding("ClusterRoleBinding", {**ROLE_REF, "apiGroup": "x"},
                                         SA), [
        unsup("roleRef.apiGroup", '"x"', f'"{RBAC}"')]),
    "clusterrolebinding without role name": (binding("ClusterRoleBinding",
                                                     {**ROLE_REF, "name": ""}, SA), [
        req("roleRef.name")]),
    "subject kind": (binding("ClusterRoleBinding", ROLE_REF, {"kind": "Robot", "name": "x"}), [
        unsup("subjects[0].kind", '"Robot"', '"ServiceAccount", "User", "Group"')]),
    "service account without namespace": (binding("ClusterRoleBinding", ROLE_REF,
                                                  {"kind": "ServiceAccount", "name": "x"}), [
        req("subjects[0].namespace")]),
    "service account with a group": (binding("ClusterRoleBinding", ROLE_REF,
                                             {**SA, "apiGroup": RBAC}), [
        unsup("subjects[0].apiGroup", f'"{RBAC}"', '""')]),
    "user group": (binding("ClusterRoleBinding", ROLE_REF,
                           {"kind": "User", "name": "x", "apiGroup": "wrong"}), [
        unsup("subjects[0].apiGroup", '"wrong"', f'"{RBAC}"')]),
    "subject without name": (binding("ClusterRoleBinding", ROLE_REF,
                                     {"kind": "User", "name": "", "apiGroup": RBAC}), [
        req("subjects[0].name")]),
    "rolebinding role kind": (binding("RoleBinding", {**ROLE_REF, "kind": "Foo"}, SA), [
        unsup("roleRef.kind", '"Foo"', '"Role", "ClusterRole"')]),
    "configmap key": (cm(data={"a b": "1"}), [
        inv("data[a b]", "\"a b\": a valid config key must consist of alphanumeric characters, "
                         "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
                         "regex used for validation is '[-._a-zA-Z0-9]+')")]),
    "configmap key in both maps": (cm(data={"x": "1"}, binaryData={"x": "MQ=="}), [
        inv("data[x]", '"x": duplicate of key present in binaryData')]),
    "configmap key ..": (cm(data={"..": "1"}), [inv("data[..]", "\"..\": must not be '..'")]),
}


def _path(cluster: Cluster, plural: str, obj: dict[str, Any]) -> str:
    group = obj["apiVersion"].rpartition("/")[0]
    base = f"/apis/{obj['apiVersion']}" if group else "/api/v1"
    if plural in ("clusterroles", "clusterrolebindings", "namespaces"):
        return f"{base}/{plural}"
    return f"{base}/namespaces/{cluster.new_namespace()}/{plural}"


def _refused(cluster: Cluster, plural: str, obj: dict[str, Any],
             path: str | None = None) -> tuple[str, list[tuple[str, str, str]]]:
    status, body = cluster.api("POST", path or _path(cluster, plural, obj), body=obj)
    assert status == 422, body
    causes = [(c["field"], c["reason"], c["message"]) for c in body["details"]["causes"]]
    return body["message"], causes


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_like_a_real_server(cluster: Cluster, case: str) -> None:
    (plural, obj), expected = CASES[case]
    name = f"v-{uuid.uuid4().hex[:6]}"
    obj = {**obj, "metadata": {"name": name}}
    message, causes = _refused(cluster, plural, obj)
    assert causes == expected
    kind = obj["kind"] if "/" not in obj["apiVersion"] else \
        f"{obj['kind']}.{obj['apiVersion'].rpartition('/')[0]}"
    shown = [f"{field}: {text}" for field, _, text in expected]
    joined = shown[0] if len(shown) == 1 else "[" + ", ".join(shown) + "]"
    assert message == f'{kind} "{name}" is invalid: {joined}'


def test_namespace_finalizers(cluster: Cluster) -> None:
    name = f"v-{uuid.uuid4().hex[:6]}"
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
          "spec": {"finalizers": ["a b"]}}
    _, causes = _refused(cluster, "namespaces", ns, "/api/v1/namespaces")
    assert causes == [inv("spec.finalizers", f'"a b": {NAME_PART_MSG}'),
                      inv("spec.finalizers", '"a b": name is neither a standard finalizer name '
                                             "nor is it fully qualified")]
    ns["spec"]["finalizers"] = ["example.com/keep"]
    assert cluster.api("POST", "/api/v1/namespaces", body=ns)[0] == 201


def test_immutable_fields_on_update(cluster: Cluster) -> None:
    ns = cluster.new_namespace()
    merge = "application/merge-patch+json"
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    assert cluster.api("POST", cms, body={"metadata": {"name": "i"}, "data": {"a": "1"},
                                          "immutable": True})[0] == 201
    forbidden = "Forbidden: field is immutable when `immutable` is set"
    for patch, field in (({"data": {"a": "2"}}, "data"), ({"immutable": False}, "immutable")):
        status, body = cluster.api("PATCH", f"{cms}/i", body=patch, content_type=merge)
        assert status == 422 and body["details"]["causes"] == [
            {"reason": "FieldValueForbidden", "message": forbidden, "field": field}], body
    crbs = f"/apis/{RBAC}/v1/clusterrolebindings"
    name = f"v-{uuid.uuid4().hex[:6]}"
    user = {"kind": "User", "name": "u"}  # the server defaults the apiGroup of a User
    status, created = cluster.api("POST", crbs, body={
        "metadata": {"name": name}, "roleRef": ROLE_REF, "subjects": [user]})
    assert status == 201 and created["subjects"][0]["apiGroup"] == RBAC, created
    status, body = cluster.api("PATCH", f"{crbs}/{name}", content_type=merge,
                               body={"roleRef": {**ROLE_REF, "name": "edit"}})
    assert status == 422 and body["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "roleRef",
        "message": f'Invalid value: {{"APIGroup":"{RBAC}","Kind":"ClusterRole","Name":"edit"}}: '
                   "cannot change roleRef"}], body
    dss = f"/apis/apps/v1/namespaces/{ns}/daemonsets"
    created = {"metadata": {"name": "d"}, "spec": {"selector": SEL, "template": TEMPLATE}}
    assert cluster.api("POST", dss, body=created)[0] == 201
    moved = {"matchLabels": {"a": "b", "c": "d"}}
    status, body = cluster.api("PATCH", f"{dss}/d", content_type=merge, body={"spec": {
        "selector": moved, "template": {"metadata": {"labels": {"a": "b", "c": "d"}}}}})
    assert status == 422 and body["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.selector",
        "message": 'Invalid value: {"matchLabels":{"a":"b","c":"d"}}: field is immutable'}], body
