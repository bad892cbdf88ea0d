"""golden_state/README.md reviews what `autopilot render --hco-file examples/hco.yaml`
prints, asset by asset: the table must list exactly the assets that render, and say
which are left out."""

from __future__ import annotations

import re

from ruamel.yaml import YAML

from autopilot.golden.catalog import GoldenState
from autopilot.golden.context import build_context
from tests.support.rendering import GOLDEN_ROOT, PROJECT, plan

README = GOLDEN_ROOT / "README.md"


def review_rows() -> dict[str, str]:
    """Asset -> object column of the review table."""
    text = README.read_text()
    section = text.split("## Review:", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `([a-z0-9-]+)` \| ([^|]*) \|", line)
        if match:
            rows[match.group(1)] = match.group(2).strip()
    return rows


def test_the_review_covers_exactly_the_example_render(golden: GoldenState) -> None:
    hco = YAML(typ="safe").load((PROJECT / "examples" / "hco.yaml").read_text())
    ctx = build_context(hco=hco, nodes=[], environ={}, version=golden.version,
                        namespace=hco["metadata"]["namespace"])
    included = {a.name for a in golden.assets if plan(golden, a.name, ctx).included}
    rows = review_rows()
    reviewed = {name for name, obj in rows.items() if not obj.startswith("(not in")}
    assert reviewed == included
    # Every asset of the features the example touches has a row, rendered or not.
    for name in rows:
        golden.asset(name)


def test_every_feature_is_reviewed(golden: GoldenState) -> None:
    text = README.read_text()
    for feature in golden.features:
        covered = feature.title in text or any(
            f"`{a.name}`" in text for a in golden.feature_assets(feature))
        assert covered, feature.name
