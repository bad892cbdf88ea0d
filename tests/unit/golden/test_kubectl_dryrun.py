"""``autopilot render --output yaml`` is accepted by the API server (server-side dry run).

Runs against the ``cluster`` fixture (kubesim, or a real kube-apiserver) with the
public CRDs of the rendered kinds installed, so schema validation is real.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from autopilot.golden.kinds import plural_of
from autopilot.kube.resources import split_api_version
from tests.support.cluster import Cluster, require_shared
from tests.support.cmd import run_command
from tests.support.platform import BASE_KINDS, crd_paths

HCO = Path(__file__).resolve().parents[3] / "examples" / "hco.yaml"


def _prepare(cluster: Cluster) -> tuple[str, list[dict[str, Any]]]:
    require_shared()
    cluster.install_crds(*crd_paths(BASE_KINDS))
    rendered = run_command("render", "--hco-file", str(HCO), "--output", "yaml")
    assert rendered.code == 0, rendered.err
    docs = [d for d in YAML(typ="safe").load_all(rendered.out) if d is not None]
    for namespace in sorted({d["metadata"].get("namespace") for d in docs} - {None}):
        status, body = cluster.api("POST", "/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        assert status in (201, 409), body
    return rendered.out, docs


@pytest.mark.real_ok
def test_rendered_objects_pass_server_side_apply_dry_run(cluster: Cluster) -> None:
    _, docs = _prepare(cluster)
    for doc in docs:
        group, version = split_api_version(doc["apiVersion"])
        base = f"/apis/{group}/{version}" if group else f"/api/{version}"
        ns = doc["metadata"].get("namespace")
        path = (base + (f"/namespaces/{ns}" if ns else "")
                + f"/{plural_of(doc['kind'])}/{doc['metadata']['name']}")
        status, body = cluster.api(
            "PATCH", path, json.dumps(doc).encode(),
            {"fieldManager": "virt-platform-autopilot", "force": True, "dryRun": "All"},
            "application/apply-patch+yaml",
        )
        assert status in (200, 201), (doc["kind"], doc["metadata"]["name"], body)


@pytest.mark.real_ok
def test_kubectl_apply_dry_run_server(cluster: Cluster) -> None:
    text, docs = _prepare(cluster)
    result = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=text, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("(server dry run)") == len(docs)
    ssa = cluster.kubectl(
        "apply", "--server-side", "--field-manager=virt-platform-autopilot",
        "--dry-run=server", "-f", "-", input=text, check=False,
    )
    assert ssa.returncode == 0, ssa.stderr
