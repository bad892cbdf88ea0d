"""The OLM bundle: the ClusterServiceVersion, the bundle layout and its image."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from autopilot.runtime.lease import LEASE_NAME
from tests.support.cmd import run_command
from tests.support.olm_schema import ENV_NAME, csv_problems
from tests.support.openapi_check import OpenAPI

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "virt-platform-autopilot"
CSV_FILE = ROOT / "manifests" / "olm" / f"{PACKAGE}.clusterserviceversion.yaml"
SHARED = ROOT.parent / "shared"


def load(path: Path) -> Any:
    docs = [d for d in YAML(typ="safe", pure=True).load_all(path.read_text()) if d]
    assert len(docs) == 1, path
    return docs[0]


@pytest.fixture(scope="module")
def csv() -> dict[str, Any]:
    data: dict[str, Any] = load(CSV_FILE)
    return data


def strategy(csv: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = csv["spec"]["install"]["spec"]
    return spec


def test_committed_bundle_is_fresh() -> None:
    result = run_command("csv", "--check")
    assert result.code == 0, result.err


def test_csv_is_a_valid_cluster_service_version(csv: dict[str, Any]) -> None:
    assert csv_problems(csv, package=PACKAGE) == []
    assert csv["spec"]["minKubeVersion"]
    annotations = csv["metadata"]["annotations"]
    assert annotations["operatorframework.io/suggested-namespace"] == "openshift-cnv"
    features = {k for k in annotations if k.startswith("features.operators.openshift.io/")}
    assert {"features.operators.openshift.io/disconnected",
            "features.operators.openshift.io/fips-compliant",
            "features.operators.openshift.io/proxy-aware",
            "features.operators.openshift.io/tls-profiles",
            "features.operators.openshift.io/token-auth-aws",
            "features.operators.openshift.io/token-auth-azure",
            "features.operators.openshift.io/token-auth-gcp"} <= features
    assert csv["spec"]["customresourcedefinitions"] == {"required": [{
        "name": "hyperconvergeds.hco.kubevirt.io", "version": "v1", "kind": "HyperConverged",
        "displayName": "HyperConverged",
        # What the console shows next to the dependency: it says why HCO is required.
        "description": "The OpenShift Virtualization deployment whose annotations switch"
                       " the autopilot on.",
        # Events about the HyperConverged (see csv-base.yaml).
        "resources": [{"kind": "Event", "name": "", "version": "v1"}],
    }]}


def test_schema_checks_catch_what_olm_rejects(csv: dict[str, Any]) -> None:
    broken = copy.deepcopy(csv)
    broken["spec"]["version"] = "v1"
    broken["spec"]["installModes"] = broken["spec"]["installModes"][:2]
    broken["spec"]["installs"] = {}
    container = strategy(broken)["deployments"][0]["spec"]["template"]["spec"]["containers"][0]
    container["env"][0]["name"] = "pod_name"
    strategy(broken)["permissions"][0]["serviceAccountName"] = "nobody"
    problems = "\n".join(csv_problems(broken, package=PACKAGE))
    for needle in ("spec.version", "metadata.name", "spec.installModes", "installs",
                   "'pod_name' is not an upper-case", "'nobody' runs no deployment"):
        assert needle in problems


def test_install_strategy_is_the_deployment(csv: dict[str, Any]) -> None:
    deployment = load(ROOT / "manifests" / "deployment.yaml")
    [dep] = strategy(csv)["deployments"]
    assert dep["name"] == deployment["metadata"]["name"]
    assert dep["label"] == deployment["metadata"]["labels"]
    assert dep["spec"] == deployment["spec"]


def test_env_names_are_the_deployments_upper_case_names(csv: dict[str, Any]) -> None:
    deployment = load(ROOT / "manifests" / "deployment.yaml")
    [dep] = strategy(csv)["deployments"]

    def env_names(spec: dict[str, Any]) -> list[list[str]]:
        return [[e["name"] for e in c.get("env") or []] for c in spec["template"]["spec"]
                ["containers"]]

    ours = env_names(dep["spec"])
    assert ours == env_names(deployment["spec"]) and any(ours)
    assert all(ENV_NAME.match(name) for names in ours for name in names)


def test_permissions_are_the_shipped_roles(csv: dict[str, Any]) -> None:
    cluster_role = load(ROOT / "manifests" / "rbac" / "clusterrole.yaml")
    lease_role = load(ROOT / "manifests" / "rbac" / "leader-election-role.yaml")
    account = strategy(csv)["deployments"][0]["spec"]["template"]["spec"]["serviceAccountName"]
    [cluster] = strategy(csv)["clusterPermissions"]
    [namespaced] = strategy(csv)["permissions"]
    assert cluster["serviceAccountName"] == namespaced["serviceAccountName"] == account
    namespaced_roles = [d for d in YAML(typ="safe", pure=True).load_all(
        (ROOT / "manifests" / "rbac" / "namespaced.yaml").read_text()) if d and d["kind"] == "Role"]
    # The Lease Role's rules, then every namespaced Role's, each once: OLM grants them in
    # every namespace of the (MultiNamespace) OperatorGroup.
    wanted: list[dict[str, Any]] = []
    for r in [*lease_role["rules"], *(r for role in namespaced_roles for r in role["rules"])]:
        if r not in wanted:
            wanted.append(r)
    assert namespaced["rules"] == wanted
    modes = {m["type"]: m["supported"] for m in csv["spec"]["installModes"]}
    assert modes["MultiNamespace"] and not modes["AllNamespaces"]
    # As the kustomize install binds them: the ClusterRole cluster-wide, leases only in
    # the install namespace.
    assert cluster["rules"] == cluster_role["rules"]
    assert not [r for r in cluster_role["rules"] if "leases" in r["resources"]]
    # get/update only on the controller's own Lease (create cannot be limited to a name).
    assert [r.get("resourceNames") for r in lease_role["rules"]] == [None, [LEASE_NAME]]


def test_related_images_and_description(csv: dict[str, Any]) -> None:
    deployment = load(ROOT / "manifests" / "deployment.yaml")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert {"name": PACKAGE, "image": image} in csv["spec"]["relatedImages"]
    assert csv["metadata"]["annotations"]["containerImage"] == image
    readme = (ROOT / "README.md").read_text()
    description = csv["spec"]["description"]
    assert description.startswith("virt-platform-autopilot keeps an OpenShift Virtualization")
    assert "## Coming from the reference operator" in description
    assert "## Observing it" not in description and "olm-description" not in description
    assert "Coming from the reference operator" in readme
    # Links work outside the repository: none is relative.
    targets = re.findall(r"\]\(([^)]+)\)", description)
    assert targets and all(t.startswith("https://") for t in targets)


def test_deployment_in_the_csv_validates_against_kubernetes(csv: dict[str, Any]) -> None:
    root = SHARED / "kube-openapi"
    if not (root / "apis_apps_v1.json").is_file():
        pytest.skip(f"Kubernetes OpenAPI documents not available ({root})")
    [dep] = strategy(csv)["deployments"]
    obj = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": dep["name"], "labels": dep["label"]}, "spec": dep["spec"]}
    assert OpenAPI(root).validate(obj) == []
    for entry in (*strategy(csv)["clusterPermissions"], *strategy(csv)["permissions"]):
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "x"}, "rules": entry["rules"]}
        assert OpenAPI(root).validate(role) == []


def test_bundle_layout_and_image() -> None:
    bundle = ROOT / "bundle"
    assert sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()) \
        == sorted([
            f"manifests/{PACKAGE}.clusterserviceversion.yaml",
            "manifests/virt-platform-autopilot-metrics_v1_service.yaml",
            "metadata/annotations.yaml",
        ])
    assert (bundle / "manifests" / CSV_FILE.name).read_text() == CSV_FILE.read_text()
    annotations = load(bundle / "metadata" / "annotations.yaml")["annotations"]
    assert annotations["operators.operatorframework.io.bundle.mediatype.v1"] == "registry+v1"
    assert annotations["operators.operatorframework.io.bundle.manifests.v1"] == "manifests/"
    assert annotations["operators.operatorframework.io.bundle.metadata.v1"] == "metadata/"
    assert annotations["operators.operatorframework.io.bundle.package.v1"] == PACKAGE
    default = annotations["operators.operatorframework.io.bundle.channel.default.v1"]
    assert default in annotations["operators.operatorframework.io.bundle.channels.v1"].split(",")
    containerfile = (ROOT / "Containerfile.bundle").read_text()
    label_key = r"(?:operators\.operatorframework\.io\.bundle|com\.redhat\.openshift)\.[\w.]+"
    labels = dict(re.findall(rf"({label_key})=(\S+)", containerfile))
    assert labels == annotations, "bundle image labels must equal metadata/annotations.yaml"
    assert "COPY bundle/manifests /manifests/" in containerfile
    assert "COPY bundle/metadata /metadata/" in containerfile
    service = load(bundle / "manifests" / "virt-platform-autopilot-metrics_v1_service.yaml")
    shipped = load(ROOT / "manifests" / "service.yaml")
    # OLM puts bundle objects in the operator's namespace: the file names none.
    del shipped["metadata"]["namespace"]
    assert service == shipped


def copy_project(project: Path) -> Path:
    """The files `autopilot csv` reads and writes, copied to ``project``."""
    for rel in ("manifests", "bundle"):
        shutil.copytree(ROOT / rel, project / rel)
    for rel in ("README.md", "pyproject.toml", "Containerfile.bundle"):
        shutil.copy(ROOT / rel, project / rel)
    return project


def test_check_fails_when_stale_and_csv_repairs(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    assert run_command("csv", "--check", "--project", str(project)).code == 0
    deployment = project / "manifests" / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("memory: 96Mi", "memory: 128Mi"))
    stale = run_command("csv", "--check", "--project", str(project))
    assert stale.code == 1 and "clusterserviceversion.yaml" in stale.err
    assert stale.err.count("\n") == 1
    assert run_command("csv", "--project", str(project)).code == 0
    assert run_command("csv", "--check", "--project", str(project)).code == 0
    assert "memory: 128Mi" in (project / "bundle" / "manifests" / CSV_FILE.name).read_text()


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    result = run_command("csv", "--project", str(tmp_path))
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith("autopilot: error: ") and "pyproject.toml" in result.err


def test_a_cluster_wide_lease_grant_is_refused(tmp_path: Path) -> None:
    """Leader election stays namespaced: `autopilot csv` refuses a ClusterRole with leases."""
    project = copy_project(tmp_path / "project")
    role_file = project / "manifests" / "rbac" / "clusterrole.yaml"
    role = load(role_file)
    role["rules"].append({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                          "verbs": ["get", "create", "update"]})
    role_file.write_text(json.dumps(role))
    result = run_command("csv", "--project", str(project))
    assert result.code == 2 and result.err.count("\n") == 1, result.err
    assert "leases.coordination.k8s.io" in result.err
