"""golden_state/README.md says, per node object, which pool takes it and what each node
does when it lands, exactly as the Machine Config Operator's own checks say."""

from __future__ import annotations

import re
from typing import Any

from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import all_on_contexts
from autopilot.golden.render import render_asset
from tests.support.mco_check import mco_check, require
from tests.support.rendering import GOLDEN_ROOT

from .test_mco_check import NODE_KINDS, STORAGE

README = GOLDEN_ROOT / "README.md"
POOL_LABEL = re.compile(r"^pools\.operator\.machineconfiguration\.openshift\.io/(.+)$")
ROW = re.compile(r"^\| `([a-z0-9-]+)` \| (MachineConfig|KubeletConfig) `([^`]+)` \| "
                 r"([a-z]+) \| ([a-z ]+) \|$")


def documented() -> dict[tuple[str, str, str], tuple[str, str]]:
    """(asset, kind, name) -> (pool, action) from the README's node table."""
    section = README.read_text().split("## What each node object does to a node", 1)[1]
    return {(m[1], m[2], m[3]): (m[4], m[5])
            for m in (ROW.match(line) for line in section.split("\n## ", 1)[0].splitlines())
            if m}


def by_asset(golden: GoldenState) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(kind, name) -> (asset, object) for every node object any variant renders."""
    out = {}
    for ctx in all_on_contexts(golden):
        for asset in golden.assets:
            for obj in render_asset(golden, asset, ctx, lookups=STORAGE):
                if obj["kind"] in NODE_KINDS:
                    out.setdefault((obj["kind"], obj["metadata"]["name"]), (asset.name, obj))
    return out


def pool_of(obj: dict[str, Any], verdict_pool: str | None) -> str:
    """The MachineConfig's pool as mco-check names it; a KubeletConfig's from its selector."""
    if obj["kind"] == "MachineConfig":
        assert verdict_pool is not None
        return verdict_pool
    labels = obj["spec"]["machineConfigPoolSelector"]["matchLabels"]
    [pool] = [m[1] for m in (POOL_LABEL.match(k) for k in labels) if m]
    return pool


def test_the_readme_table_is_what_mco_check_says(golden: GoldenState) -> None:
    require()
    objects = by_asset(golden)
    verdicts = {(v.kind, v.name): v for v in mco_check([o for _, o in objects.values()])}
    actual = {}
    for (kind, name), (asset, obj) in objects.items():
        verdict = verdicts[(kind, name)]
        assert verdict.ok and verdict.action, verdict
        actual[(asset, kind, name)] = (pool_of(obj, verdict.pool), verdict.action)
    assert documented() == actual
