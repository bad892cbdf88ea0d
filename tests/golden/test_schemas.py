"""The objects of this helper's assets validate against the real CRD schemas.

Uses the local API server's structural-schema validator (what kubesim enforces on
apply) with the public CRDs in ../shared/crds; skips when they are absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import all_on_contexts
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.render import render_asset
from autopilot.kube.resources import split_api_version
from tests.golden.conftest import SHARED

schema = pytest.importorskip("kubesim.schema")

MY_FEATURES = ("framework", "observability", "swap")
CRD_DIR = SHARED / "crds"


# The CRDs of the kinds these assets render (parsing every shared CRD would be slow).
CRD_FILES = (
    "kubevirt/hyperconverged-crd.yaml",
    "prometheus/monitoring.coreos.com_servicemonitors.yaml",
    "prometheus/monitoring.coreos.com_prometheusrules.yaml",
    "observability/observability.openshift.io_uiplugins.yaml",
    "observability/perses.dev_persesdashboards.yaml",
    "openshift/machineconfig-crd.yaml",
)


def _crds() -> dict[tuple[str, str], tuple[dict[str, Any], str]]:
    """(group, kind) -> (CRD, file) for the CRDs listed above."""
    found: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    for path in (CRD_DIR / name for name in CRD_FILES):
        for doc in YAML(typ="safe").load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                spec = doc["spec"]
                found[(spec["group"], spec["names"]["kind"])] = (doc, path.name)
    return found


def _version_schema(crd: dict[str, Any], version: str) -> dict[str, Any] | None:
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            return dict(entry["schema"]["openAPIV3Schema"])
    return None


def test_my_assets_match_their_schemas(golden: GoldenState) -> None:
    if not CRD_DIR.is_dir():
        pytest.skip(f"shared CRDs not available ({CRD_DIR} absent)")
    crds = _crds()
    checked = 0
    for asset in golden.assets:
        if asset.feature not in MY_FEATURES:
            continue
        for ctx in all_on_contexts(golden):
            for obj in render_asset(golden, asset, ctx, lookups=OfflineLookups()):
                group, version = split_api_version(obj["apiVersion"])
                if group and "." in group:
                    assert (group, obj["kind"]) in crds, f"{asset.name}: no CRD listed"
                if (group, obj["kind"]) in crds:
                    crd, source = crds[(group, obj["kind"])]
                    raw = _version_schema(crd, version)
                    assert raw is not None, f"{asset.name}: {source} does not serve {version}"
                    type_schema = schema.schema_from_openapi(raw)
                else:
                    type_schema = schema.builtin_schema(group, version, obj["kind"])
                    if type_schema is None:
                        continue
                causes = schema.validate(obj, type_schema)
                assert causes == [], f"{asset.name}: {causes}"
                assert schema.prune_unknown(obj, type_schema) == obj, (
                    f"{asset.name}: fields unknown to the {obj['kind']} schema"
                )
                checked += 1
    assert checked >= 6


def test_shared_dir_constant_points_beside_project() -> None:
    assert Path(SHARED).name == "shared"
