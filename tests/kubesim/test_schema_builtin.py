"""The committed built-in schema table and the built-in defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubesim.schema import (
    OBJECT_META,
    builtin_schema,
    builtin_type,
    zero_object,
)
from kubesim.tools import gen_builtin_schema
from tests.support.sim_defaults import server_defaults

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
OPENAPI = SHARED / "kube-openapi"
TABLE = Path(gen_builtin_schema.__file__).parents[1] / "data" / "builtin_types.json"

REQUIRED = [
    ("", "v1", "ConfigMap"),
    ("", "v1", "Secret"),
    ("", "v1", "Service"),
    ("", "v1", "ServiceAccount"),
    ("", "v1", "Namespace"),
    ("", "v1", "Node"),
    ("", "v1", "Pod"),
    ("", "v1", "Event"),
    ("apps", "v1", "DaemonSet"),
    ("apps", "v1", "Deployment"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io", "v1", "Role"),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
    ("coordination.k8s.io", "v1", "Lease"),
    ("events.k8s.io", "v1", "Event"),
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
]


@pytest.mark.parametrize(("group", "version", "kind"), REQUIRED)
def test_required_kinds_are_in_the_table(group: str, version: str, kind: str) -> None:
    schema = builtin_schema(group, version, kind)
    assert schema is not None
    assert schema.properties["metadata"].properties["labels"].additional_properties is not None


def test_unknown_kind_has_no_builtin_schema() -> None:
    assert builtin_schema("example.com", "v1", "Widget") is None
    assert builtin_schema("", "v1", "Widget") is None


def test_list_and_map_semantics_come_from_openapi() -> None:
    service = builtin_schema("", "v1", "Service")
    assert service is not None
    spec = service.properties["spec"]
    ports = spec.properties["ports"]
    assert (ports.list_type, ports.list_map_keys) == ("map", ("port", "protocol"))
    assert ports.element().properties["protocol"].default == "TCP"
    assert spec.properties["selector"].map_type == "atomic"
    assert ports.element().properties["targetPort"].int_or_string
    pod = builtin_schema("", "v1", "Pod")
    assert pod is not None
    containers = pod.properties["spec"].properties["containers"]
    assert (containers.list_type, containers.list_map_keys) == ("map", ("name",))
    role = builtin_schema("rbac.authorization.k8s.io", "v1", "ClusterRole")
    assert role is not None
    assert role.properties["rules"].list_type == "atomic"
    meta = builtin_type(OBJECT_META)
    assert meta.properties["finalizers"].list_type == "set"
    owners = meta.properties["ownerReferences"]
    assert (owners.list_type, owners.list_map_keys) == ("map", ("uid",))


def test_recursive_types_resolve() -> None:
    crd = builtin_schema("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    assert crd is not None
    version = crd.properties["spec"].properties["versions"].element()
    props = version.properties["schema"].properties["openAPIV3Schema"]
    assert props.properties["properties"].additional_properties is props


def test_zero_object_holds_non_pointer_structs() -> None:
    ds = builtin_schema("apps", "v1", "DaemonSet")
    zero = zero_object(ds)
    assert zero["spec"]["template"] == {"metadata": {}, "spec": {}}
    assert "rollingUpdate" not in zero["spec"]["updateStrategy"]
    assert zero_object(None) == {}


@pytest.mark.skipif(not OPENAPI.is_dir(), reason=f"OpenAPI documents absent ({OPENAPI})")
def test_committed_table_matches_the_generator(tmp_path: Path) -> None:
    out = tmp_path / "table.json"
    assert gen_builtin_schema.main([str(OPENAPI), str(out)]) == 0
    assert json.loads(out.read_text("utf-8")) == json.loads(TABLE.read_text("utf-8"))


def test_generator_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert gen_builtin_schema.main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_service_defaults() -> None:
    svc = {"spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}}
    out = server_defaults("", "v1", "Service", svc)
    assert out["spec"]["type"] == "ClusterIP"
    assert out["spec"]["sessionAffinity"] == "None"
    assert out["spec"]["ports"] == [
        {"port": 80, "protocol": "TCP", "targetPort": 80},
        {"port": 53, "protocol": "UDP", "targetPort": "dns"},
    ]
    assert svc == {
        "spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}
    }


def test_workload_defaults() -> None:
    template = {"spec": {"containers": [{"name": "c", "image": "repo/x"}]}}
    deploy = server_defaults("apps", "v1", "Deployment", {"spec": {"template": template}})
    assert deploy["spec"]["replicas"] == 1
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {
        "maxUnavailable": "25%",
        "maxSurge": "25%",
    }
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    assert container["imagePullPolicy"] == "Always"  # no tag means latest
    ds = server_defaults(
        "apps", "v1", "DaemonSet", {"spec": {"updateStrategy": {"type": "OnDelete"}}}
    )
    assert ds["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert ds["spec"]["revisionHistoryLimit"] == 10


def test_other_defaults() -> None:
    ns = server_defaults("", "v1", "Namespace", {"metadata": {"name": "n"}})
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert server_defaults("", "v1", "Secret", {})["type"] == "Opaque"
    binding = server_defaults(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        {"subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}]},
    )
    # A ServiceAccount subject's apiGroup defaults to "", which the API omits (omitempty).
    assert [s.get("apiGroup") for s in binding["subjects"]] == ["rbac.authorization.k8s.io", None]
    crd = server_defaults(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        {"spec": {"names": {"kind": "Foo"}}},
    )
    assert crd["spec"]["names"] == {"kind": "Foo", "singular": "foo", "listKind": "FooList"}
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    hook = server_defaults(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        {"webhooks": [{"name": "w", "clientConfig": {"service": {"name": "s"}}, "rules": [{}]}]},
    )
    [w] = hook["webhooks"]
    assert w["failurePolicy"] == "Fail"
    assert w["clientConfig"]["service"]["port"] == 443
    assert w["rules"] == [{"scope": "*"}]
