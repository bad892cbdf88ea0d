"""The deployment manifests: they build, validate, match the contract and the seed runbook."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from ruamel.yaml import YAML

from autopilot.golden.catalog import load_golden_state
from autopilot.golden.context import RenderContext
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.render import render_asset
from tests.support.openapi_check import OpenAPI

if TYPE_CHECKING:
    from tests.support.cluster import Cluster

# One worker runs the kustomize build once for every test here (module-scoped).
pytestmark = pytest.mark.xdist_group("manifests")
ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
CLUSTERROLE = MANIFESTS / "rbac" / "clusterrole.yaml"
SHARED = ROOT.parent / "shared"
KUBECTL = shutil.which("kubectl")
NS = "openshift-cnv"
APP = "virt-platform-autopilot"

pytestmark = pytest.mark.needs_tool("kubectl")

def kustomize(directory: Path) -> str:
    assert KUBECTL is not None
    proc = subprocess.run(
        [KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"kubectl kustomize failed: {proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def built() -> str:
    """The kustomize output of manifests/ (with the committed, generated ClusterRole)."""
    return kustomize(MANIFESTS)


@pytest.fixture(scope="module")
def objects(built: str) -> dict[tuple[str, str], dict[str, Any]]:
    docs = [d for d in YAML(typ="safe", pure=True).load_all(built) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


@pytest.fixture(scope="module")
def deployment(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    return objects[("Deployment", APP)]


def test_clusterrole_is_generated_and_present() -> None:
    assert CLUSTERROLE.is_file(), "manifests/rbac/clusterrole.yaml is missing (`autopilot rbac`)"
    docs = list(YAML(typ="safe", pure=True).load_all(CLUSTERROLE.read_text()))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs if d] == [("ClusterRole", APP)]


def allows(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    """Whether an RBAC rule grants ``verb`` on every object of ``resource``."""
    return any(
        group in r.get("apiGroups", []) and
        (resource in r.get("resources", []) or "*" in r.get("resources", [])) and
        (verb in r.get("verbs", []) or "*" in r.get("verbs", [])) and
        not r.get("resourceNames")
        for r in rules
    )


# What the Deployment's controller needs to start at all (besides the assets' kinds).
RUNTIME_NEEDS = [
    ("events.k8s.io", "events", ("create", "patch")),
    ("hco.kubevirt.io", "hyperconvergeds", ("get", "list", "watch")),
    ("", "nodes", ("list", "watch")),
    ("apiextensions.k8s.io", "customresourcedefinitions", ("list", "watch")),
]
LEASE_NAME = "virt-platform-autopilot.kubevirt.io"


def test_clusterrole_grants_what_the_controller_needs() -> None:
    [role] = [d for d in YAML(typ="safe", pure=True).load_all(CLUSTERROLE.read_text()) if d]
    missing = [
        f"{verb} {resource}.{group or 'core'}"
        for group, resource, verbs in RUNTIME_NEEDS for verb in verbs
        if not allows(role["rules"], group, resource, verb)
    ]
    assert missing == [], f"ClusterRole lacks: {', '.join(missing)}"


def test_leases_only_in_the_install_namespace(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Leader election: the namespaced Role and its binding, nothing cluster-wide."""
    cluster_role = objects[("ClusterRole", APP)]
    assert not [r for r in cluster_role["rules"] if "leases" in r["resources"]]
    role = objects[("Role", f"{APP}-leader-election")]
    assert role["metadata"]["namespace"] == NS
    granted = {(v, tuple(r.get("resourceNames") or ())) for r in role["rules"]
               if r["apiGroups"] == ["coordination.k8s.io"] and r["resources"] == ["leases"]
               for v in r["verbs"]}
    # create cannot be limited to a name; get and update are, to the controller's Lease.
    assert granted == {("create", ()), ("get", (LEASE_NAME,)), ("update", (LEASE_NAME,))}
    binding = objects[("RoleBinding", f"{APP}-leader-election")]
    assert binding["metadata"]["namespace"] == NS
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": APP, "namespace": NS}]


def test_kustomization_builds_expected_objects(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    assert set(objects) == {
        ("ServiceAccount", APP),
        ("ClusterRole", APP),
        ("ClusterRoleBinding", APP),
        ("Role", f"{APP}-leader-election"),
        ("RoleBinding", f"{APP}-leader-election"),
        ("Deployment", APP),
        ("Service", f"{APP}-metrics"),
        # The generated namespaced RBAC (one Role and RoleBinding per namespace, below)
        # and the namespace the golden state creates itself.
        ("Role", APP),
        ("RoleBinding", APP),
        ("Namespace", "kubevirt-metrics-exporter"),
    }
    for (kind, name), obj in objects.items():
        if kind in ("ClusterRole", "ClusterRoleBinding", "Namespace"):
            assert "namespace" not in obj["metadata"]
        elif name != APP or kind not in ("Role", "RoleBinding"):
            assert obj["metadata"]["namespace"] == NS, kind


def test_namespaced_rbac_one_role_and_binding_per_namespace(built: str) -> None:
    docs = [d for d in YAML(typ="safe", pure=True).load_all(built) if d]
    roles = {d["metadata"]["namespace"] for d in docs
             if d["kind"] == "Role" and d["metadata"]["name"] == APP}
    bindings = [d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["name"] == APP]
    assert NS in roles and "kubevirt-metrics-exporter" in roles and len(roles) > 2
    assert {b["metadata"]["namespace"] for b in bindings} == roles
    for binding in bindings:
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                      "name": APP}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": APP,
                                        "namespace": NS}]


def test_objects_validate_against_kubernetes_openapi(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    root = SHARED / "kube-openapi"
    if not (root / "api_v1.json").is_file():
        pytest.skip(f"Kubernetes OpenAPI documents not available ({root})")
    api = OpenAPI(root)
    for (kind, name), obj in objects.items():
        assert api.validate(obj) == [], f"{kind}/{name} is not valid"


def test_validator_catches_mistakes() -> None:
    root = SHARED / "kube-openapi"
    if not (root / "api_v1.json").is_file():
        pytest.skip(f"Kubernetes OpenAPI documents not available ({root})")
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "replicas": "2",
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"spec": {"containers": [{"name": "c", "imagePullPolicy": "Sometimes",
                                                  "portz": []}]}},
        },
    }
    errors = "\n".join(OpenAPI(root).validate(bad))
    assert "spec.replicas: expected integer" in errors
    assert "unknown field 'portz'" in errors
    assert "Sometimes" in errors


def test_deployment_contract(deployment: dict[str, Any]) -> None:
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"]["matchLabels"] == {"app": APP}
    pod = spec["template"]
    assert pod["metadata"]["labels"]["app"] == APP
    podspec = pod["spec"]
    assert podspec["serviceAccountName"] == APP
    [c] = podspec["containers"]
    # The namespace comes from POD_NAMESPACE (the pod's own), not a flag.
    assert c["args"] == ["run", "--leader-elect"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": 8080, "health": 8082}
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe"):
        assert ports[c[probe]["httpGet"]["port"]] == 8082
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]
           if "valueFrom" in e}
    assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace",
                   "POD_IP": "status.podIP"}
    images = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    assert set(images) == {"RELATED_IMAGE_KUBEVIRT_METRICS_EXPORTER"}
    assert set(c["resources"]["requests"]) >= {"cpu", "memory"}
    assert set(c["resources"]["limits"]) >= {"memory"}


def test_restricted_security_context(deployment: dict[str, Any]) -> None:
    podspec = deployment["spec"]["template"]["spec"]
    assert podspec["securityContext"]["runAsNonRoot"] is True
    assert podspec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [c] = podspec["containers"]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "privileged" not in sc and "runAsUser" not in sc  # OpenShift assigns the UID
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts == {"tmp": "/tmp"}
    [vol] = podspec["volumes"]
    assert vol["name"] == "tmp" and "emptyDir" in vol


def test_service_and_binding_point_at_the_right_things(
    objects: dict[tuple[str, str], dict[str, Any]], deployment: dict[str, Any],
) -> None:
    svc = objects[("Service", f"{APP}-metrics")]
    assert svc["spec"]["selector"] == {"app": APP}
    [port] = svc["spec"]["ports"]
    assert (port["name"], port["port"], port["targetPort"]) == ("metrics", 8080, 8080)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items())

    crb = objects[("ClusterRoleBinding", APP)]
    assert crb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": APP}
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": APP, "namespace": NS}]


def test_service_matches_the_golden_state_asset(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The controller applies the same Service; differing specs would be an edit war."""
    gs = load_golden_state(ROOT / "golden_state")
    ctx = RenderContext(hco={"metadata": {"name": "kubevirt-hyperconverged"}}, namespace=NS)
    [golden] = render_asset(gs, gs.asset("autopilot-metrics-service"), ctx,
                            lookups=OfflineLookups())
    ours = objects[("Service", f"{APP}-metrics")]
    assert ours["spec"] == golden["spec"]
    assert ours["metadata"]["namespace"] == golden["metadata"]["namespace"]


def test_seed_runbook_names_resolve_to_our_objects(
    objects: dict[tuple[str, str], dict[str, Any]], deployment: dict[str, Any],
) -> None:
    seed = SHARED / "seed" / "VirtPlatformSyncFailed.md"
    if not seed.is_file():
        pytest.skip(f"seed runbook not available ({seed})")
    text = seed.read_text()
    deploys = re.findall(r"-n (\S+) deploy/(\S+)", text)
    selectors = re.findall(r"-n (\S+) -l (\S+)", text)
    forwards = re.findall(r"-n (\S+) svc/(\S+) (\d+):(\d+)", text)
    accounts = re.findall(r"system:serviceaccount:([^:\s]+):(\S+)", text)
    assert deploys and selectors and forwards and accounts, "seed runbook format changed"
    for ns, name in deploys:
        assert (ns, name) == (NS, deployment["metadata"]["name"])
    for ns, selector in selectors:
        key, _, value = selector.partition("=")
        assert ns == NS
        assert deployment["spec"]["template"]["metadata"]["labels"][key] == value
    for ns, svc, _local, remote in forwards:
        service = objects[("Service", svc)]
        assert service["metadata"]["namespace"] == ns
        assert int(remote) in [p["port"] for p in service["spec"]["ports"]]
    for ns, sa in accounts:
        assert objects[("ServiceAccount", sa)]["metadata"]["namespace"] == ns
    [c] = deployment["spec"]["template"]["spec"]["containers"]
    metrics_port = next(p["containerPort"] for p in c["ports"] if p["name"] == "metrics")
    assert set(re.findall(r"curl -s localhost:(\d+)/metrics", text)) == {str(metrics_port)}


@pytest.mark.real_ok
def test_server_side_dry_run_apply(cluster: Cluster, built: str) -> None:
    yaml_text = built
    # The install namespace, and those of the operators the golden state configures
    # (installed before this controller, as the install says); a dry run creates none.
    namespaces = {NS} | {str(d["metadata"]["namespace"]) for d in YAML(
        typ="safe", pure=True).load_all(built) if d and d["metadata"].get("namespace")}
    for name in sorted(namespaces):
        cluster.kubectl("apply", "--server-side", "-f", "-",
                        input=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    proc = cluster.kubectl(
        "apply", "--server-side", "--dry-run=server", "--field-manager=manifest-test",
        "-f", "-", input=yaml_text,
    )
    out = proc.stdout
    assert f"deployment.apps/{APP} serverside-applied (server dry run)" in out
    assert f"service/{APP}-metrics serverside-applied (server dry run)" in out
    assert f"serviceaccount/{APP} serverside-applied (server dry run)" in out
    assert f"clusterrolebinding.rbac.authorization.k8s.io/{APP}" in out
    assert f"clusterrole.rbac.authorization.k8s.io/{APP}" in out
    assert f"role.rbac.authorization.k8s.io/{APP}-leader-election" in out
    assert f"rolebinding.rbac.authorization.k8s.io/{APP}-leader-election" in out
    assert len([line for line in out.splitlines()
                if line.startswith(f"role.rbac.authorization.k8s.io/{APP} ")]) == len(namespaces)
    # A dry run writes nothing.
    got = cluster.kubectl("get", "deployment", APP, "-n", NS, check=False)
    assert got.returncode != 0 and "NotFound" in got.stderr
