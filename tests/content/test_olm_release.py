"""The OLM bundle as OpenShift installs it: any namespace, release images, validators.

operator-framework's own validators (``../shared/olm-check``, what
``operator-sdk bundle validate --select-optional suite=operatorframework`` runs) must
report nothing at all on ``bundle/``; locally they are skipped when the reference
folder is absent, in CI (``CI=true``) that is a failure.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from autopilot.commands.run import add_parser
from autopilot.config import config_from_args
from autopilot.olm.csv import build_csv
from autopilot.olm.options import CsvOptions
from autopilot.olm.sources import BundleError, read_sources
from autopilot.runtime.lease import LEASE_NAME
from tests.content.test_olm_bundle import copy_project
from tests.support.cmd import run_command
from tests.support.tools import IN_CI

ROOT = Path(__file__).resolve().parents[2]
CSV_FILE = ROOT / "manifests" / "olm" / "virt-platform-autopilot.clusterserviceversion.yaml"
OLM_CHECK = ROOT.parent / "shared" / "olm-check" / "run"
DIGEST = "sha256:" + "ab" * 32
EXPORTER = "RELATED_IMAGE_KUBEVIRT_METRICS_EXPORTER"


def load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text())


@pytest.fixture(scope="module")
def csv() -> dict[str, Any]:
    data: dict[str, Any] = load(CSV_FILE)
    return data


def controller(csv: dict[str, Any]) -> dict[str, Any]:
    [dep] = csv["spec"]["install"]["spec"]["deployments"]
    container: dict[str, Any] = dep["spec"]["template"]["spec"]["containers"][-1]
    return container


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container.get("env") or []}


@pytest.mark.timeout(120)
def test_operator_framework_validators_report_nothing(tmp_path: Path) -> None:
    if not OLM_CHECK.is_file():
        message = f"operator-framework validators not available ({OLM_CHECK})"
        if IN_CI:
            pytest.fail(f"{message}: CI runs them")
        pytest.skip(message)
    # The tool unpacks itself under the working directory: keep that out of the tree.
    proc = subprocess.run(
        [str(OLM_CHECK), "--suite", "operatorframework", str(ROOT / "bundle")],
        cwd=tmp_path, capture_output=True, text=True, timeout=100,
        env={**os.environ, "OLM_CHECK_DIR": str(tmp_path / "olm-check")},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].endswith("(operatorframework suite): 0 errors, 0 warnings"), proc.stdout
    assert len(lines) == 1, proc.stdout


def test_the_install_namespace_comes_from_the_pod(csv: dict[str, Any]) -> None:
    container = controller(csv)
    assert not [a for a in container.get("args") or [] if a.startswith("--namespace")]
    field = env_of(container)["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert field == "metadata.namespace"
    # Nothing in what OLM creates names a namespace: it uses the OperatorGroup's.
    install = json.dumps(csv["spec"]["install"])
    assert "openshift-cnv" not in install and '"namespace"' not in install
    # The Lease RBAC is namespaced (OLM creates it next to the Deployment).
    [lease] = csv["spec"]["install"]["spec"]["permissions"]
    lease_rules = [r for r in lease["rules"] if "leases" in r["resources"]]
    assert lease_rules and LEASE_NAME in json.dumps(lease_rules)
    [cluster] = csv["spec"]["install"]["spec"]["clusterPermissions"]
    assert not [r for r in cluster["rules"] if "leases" in r["resources"]]
    # And the controller takes that namespace for its HyperConverged and its Lease.
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["run", *container["args"][1:]])
    config = config_from_args(args, isatty=False, environ={"POD_NAMESPACE": "virt-tools"})
    assert config.namespace == "virt-tools"
    explicit = parser.parse_args(["run", "--namespace", "other"])
    assert config_from_args(explicit, isatty=False,
                            environ={"POD_NAMESPACE": "virt-tools"}).namespace == "other"


def test_related_images_are_in_the_deployment_and_related_images(csv: dict[str, Any]) -> None:
    container = controller(csv)
    env = env_of(container)
    related = {r["image"]: r["name"] for r in csv["spec"]["relatedImages"]}
    assert EXPORTER in env
    for name, entry in env.items():
        if name.startswith("RELATED_IMAGE_"):
            assert entry["value"] in related, name
    assert container["image"] in related
    assert csv["metadata"]["annotations"]["containerImage"] == container["image"]
    assert not [i for i in related if i.endswith(":latest") or ":" not in i.rsplit("/", 1)[1]]


def test_console_metadata(csv: dict[str, Any]) -> None:
    bundle = load(ROOT / "bundle" / "metadata" / "annotations.yaml")["annotations"]
    assert re.fullmatch(r"v4\.\d+", bundle["com.redhat.openshift.versions"])
    annotations = csv["metadata"]["annotations"]
    assert isinstance(json.loads(annotations["alm-examples"]), list)
    datetime.strptime(annotations["createdAt"], "%Y-%m-%dT%H:%M:%SZ")
    [icon] = csv["spec"]["icon"]
    assert icon["mediatype"] == "image/svg+xml"
    assert base64.b64decode(icon["base64data"]).decode().lstrip().startswith("<svg")
    assert csv["spec"]["maintainers"] and all(
        m["name"] and re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", m["email"])
        for m in csv["spec"]["maintainers"]
    )


def test_a_release_pins_every_image_by_digest() -> None:
    options = CsvOptions(
        image=f"quay.io/kubevirt/virt-platform-autopilot@{DIGEST}",
        version="0.2.0",
        related={"KUBEVIRT_METRICS_EXPORTER": f"quay.io/kubevirt/exporter@{DIGEST}",
                 "EXTRA_TOOL": f"registry.example:5000/tools/extra@{DIGEST}"},
        created_at="2027-01-31T12:00:00+01:00",
    )
    csv = build_csv(read_sources(ROOT), options)
    container = controller(csv)
    env = env_of(container)
    assert container["image"] == options.image
    assert env[EXPORTER]["value"] == options.related["KUBEVIRT_METRICS_EXPORTER"]
    assert env["RELATED_IMAGE_EXTRA_TOOL"]["value"] == options.related["EXTRA_TOOL"]
    images = [r["image"] for r in csv["spec"]["relatedImages"]]
    assert sorted(images) == sorted({options.image, *options.related.values()})
    assert all(i.endswith("@" + DIGEST) for i in images)
    assert csv["metadata"]["name"] == "virt-platform-autopilot.v0.2.0"
    assert csv["spec"]["version"] == "0.2.0"
    assert csv["metadata"]["annotations"]["createdAt"] == "2027-01-31T11:00:00Z"
    assert csv["metadata"]["annotations"]["containerImage"] == options.image


def test_release_flags_write_the_bundle(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    image = f"quay.io/kubevirt/virt-platform-autopilot@{DIGEST}"
    result = run_command("csv", "--project", str(project), "--image", image,
                         "--version", "0.3.0", "--related-image",
                         f"KUBEVIRT_METRICS_EXPORTER=quay.io/kubevirt/exporter@{DIGEST}",
                         "--created-at", "2027-02-01T00:00:00Z")
    assert result.code == 0, result.err
    written = load(project / "bundle" / "manifests" / CSV_FILE.name)
    assert written["spec"]["version"] == "0.3.0"
    assert controller(written)["image"] == image
    assert "bundle:v0.3.0" in (project / "Containerfile.bundle").read_text()


@pytest.mark.parametrize(("flags", "names"), [
    (["--image", "Quay.io/UPPER:tag"], "--image"),
    (["--related-image", "exporter=quay.io/x/y:1"], "--related-image"),
    (["--related-image", "EXPORTER=not an image"], "--related-image EXPORTER"),
    (["--version", "v1"], "--version"),
    (["--created-at", "yesterday"], "createdAt"),
])
def test_bad_release_flags_are_one_line(tmp_path: Path, flags: list[str], names: str) -> None:
    result = run_command("csv", "--check", *flags)
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1 and result.err.startswith(f"autopilot: error: {names}")


def test_a_missing_icon_is_one_line(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    (project / "manifests" / "olm" / "icon.svg").unlink()
    with pytest.raises(BundleError, match=r"icon\.svg: not found"):
        read_sources(project)
