"""The objects of this helper's assets validate against the real CRD schemas.

Uses the local API server's structural-schema validator (what kubesim enforces on
apply) with the public CRDs in ../shared/crds; skips when they are absent. Every
rendered object is checked: a kind with neither a listed CRD nor a built-in schema
is a failure, not a silent pass.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ruamel.yaml import YAML

from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import all_on_contexts
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.render import render_asset
from autopilot.kube.resources import split_api_version
from kubesim import crd_defaults, crd_validation, schema
from tests.support.platform import CRDS
from tests.unit.golden.conftest import SHARED

MY_FEATURES = ("framework", "observability", "swap")
CRD_DIR = SHARED / "crds"


# The CRDs of the kinds these assets render (parsing every shared CRD would be slow).
MY_KINDS = ("HyperConverged", "ServiceMonitor", "PrometheusRule", "UIPlugin", "PersesDashboard",
            "MachineConfig")
CRD_FILES = tuple(CRDS[kind][4] for kind in MY_KINDS)


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


def _schema_of(crds: dict[tuple[str, str], tuple[dict[str, Any], str]],
               obj: dict[str, Any]) -> schema.TypeSchema:
    """The structural schema ``obj`` is checked against (a listed CRD or a built-in)."""
    group, version = split_api_version(obj["apiVersion"])
    if (group, obj["kind"]) in crds:
        crd, source = crds[(group, obj["kind"])]
        raw = _version_schema(crd, version)
        assert raw is not None, f"{source} does not serve {version}"
        return schema.schema_from_openapi(raw)
    assert not (group and "." in group), f"{obj['kind']}.{group}: no CRD listed in CRD_FILES"
    found = schema.builtin_schema(group, version, obj["kind"])
    assert found is not None, f"{obj['apiVersion']} {obj['kind']}: no built-in schema"
    return found


def _rendered(golden: GoldenState) -> list[tuple[str, dict[str, Any]]]:
    """(asset, object) for every object my assets render in the all-on contexts."""
    return [
        (asset.name, obj)
        for asset in golden.assets if asset.feature in MY_FEATURES
        for ctx in all_on_contexts(golden)
        for obj in render_asset(golden, asset, ctx, lookups=OfflineLookups())
    ]


@pytest.fixture(scope="module")
def crds() -> dict[tuple[str, str], tuple[dict[str, Any], str]]:
    if not CRD_DIR.is_dir():
        pytest.skip(f"shared CRDs not available ({CRD_DIR} absent)")
    return _crds()


def test_my_assets_match_their_schemas(
    golden: GoldenState, crds: dict[tuple[str, str], tuple[dict[str, Any], str]]
) -> None:
    rendered = _rendered(golden)
    assert {a.name for a in golden.assets if a.feature in MY_FEATURES} == {
        name for name, _ in rendered}, "an asset of mine rendered nothing"
    for name, obj in rendered:
        type_schema = _schema_of(crds, obj)
        causes = crd_validation.validate(obj, type_schema)
        assert causes == [], f"{name}: {causes}"
        assert crd_defaults.prune_unknown(obj, type_schema) == obj, (
            f"{name}: fields unknown to the {obj['kind']} schema"
        )


def test_the_schema_check_catches_a_wrong_object(
    golden: GoldenState, crds: dict[tuple[str, str], tuple[dict[str, Any], str]]
) -> None:
    """The check above has teeth: a wrong type and an unknown field are both caught."""
    sm = next(o for _, o in _rendered(golden) if o["kind"] == "ServiceMonitor")
    type_schema = _schema_of(crds, sm)
    wrong_type = copy.deepcopy(sm)
    wrong_type["spec"]["endpoints"] = "every 30s"
    assert crd_validation.validate(wrong_type, type_schema), "a string where a list belongs passed"
    unknown = copy.deepcopy(sm)
    unknown["spec"]["notAField"] = True
    assert crd_defaults.prune_unknown(unknown, type_schema) != unknown, "an unknown field survived"
