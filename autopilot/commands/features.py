"""``autopilot features``: the feature table in README.md and ``golden_state/features.json``.

Both are generated from the golden-state catalogue; ``--check`` exits 1 when either
is stale (CI runs it), without writing anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from autopilot.commands import UsageError, plain_help
from autopilot.commands.render import load_golden
from autopilot.golden.catalog import MATURITIES, Feature, GoldenState

BEGIN = "<!-- features:begin -->"
END = "<!-- features:end -->"
JSON_NAME = "features.json"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    p = subparsers.add_parser(
        "features",
        help="write the feature table (README.md) and features.json from the catalogue",
        description=plain_help(__doc__),
    )
    p.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale")
    p.add_argument("--golden-state", help="golden-state directory (default: the shipped one)")
    p.add_argument("--readme", help="README to update (default: beside the golden state)")
    p.set_defaults(func=run)


def ordered_features(golden: GoldenState) -> list[Feature]:
    """Features by maturity (GA, TP, DP), then name: a stable order for both artefacts."""
    return sorted(golden.features, key=lambda f: (MATURITIES.index(f.maturity), f.name))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def feature_table(golden: GoldenState) -> str:
    """The Markdown table (feature, maturity, switch, assets)."""
    lines = ["| Feature | Maturity | Switch | Assets |", "|---|---|---|---|"]
    for feature in ordered_features(golden):
        assets = ", ".join(f"`{a.name}`" for a in golden.feature_assets(feature)) or "-"
        lines.append(
            f"| {_cell(feature.title)} | {feature.maturity} | {_cell(feature.switch)} | {assets} |"
        )
    return "\n".join(lines) + "\n"


def features_json(golden: GoldenState) -> str:
    """The JSON artefact (stable key order, trailing newline)."""
    data: dict[str, Any] = {
        "goldenStateVersion": golden.version,
        "features": [
            {
                "name": f.name,
                "title": f.title,
                "description": f.description,
                "maturity": f.maturity,
                "switch": f.switch,
                "assets": [a.name for a in golden.feature_assets(f)],
                "requires": list(f.requires),
                "recommended": list(f.recommended),
            }
            for f in ordered_features(golden)
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def updated_readme(text: str, table: str, *, path: Path) -> str:
    """``text`` with the table placed between the markers."""
    start = text.find(BEGIN)
    end = text.find(END)
    if start < 0 or end < start:
        raise UsageError(f"{path}: markers {BEGIN} ... {END} not found")
    return text[: start + len(BEGIN)] + "\n" + table + text[end:]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    """Generate (or check) the README table and the JSON artefact."""
    golden = load_golden(args.golden_state)
    readme = Path(args.readme) if args.readme else golden.root.resolve().parent / "README.md"
    json_path = golden.root / JSON_NAME
    current_readme = _read(readme)
    if current_readme is None:
        raise UsageError(f"{readme}: not found")
    wanted_readme = updated_readme(current_readme, feature_table(golden), path=readme)
    wanted_json = features_json(golden)
    stale = [
        str(path)
        for path, wanted, current in (
            (readme, wanted_readme, current_readme),
            (json_path, wanted_json, _read(json_path)),
        )
        if wanted != current
    ]
    if args.check:
        if stale:
            sys.stderr.write(
                f"autopilot: error: stale feature artefacts ({', '.join(stale)}): "
                "run `autopilot features`\n"
            )
            return 1
        return 0
    for path, wanted in ((readme, wanted_readme), (json_path, wanted_json)):
        if str(path) in stale:
            path.write_text(wanted, encoding="utf-8")
    return 0
