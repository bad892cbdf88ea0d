"""Where the alerts' runbook links point: one setting, defaulting to this repository."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from autopilot.golden.catalog import load_golden_state
from autopilot.golden.context import RenderContext
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.render import render_asset

ROOT = Path(__file__).resolve().parents[2]
ASSET = "observability-alerts"


def runbook_urls(golden_root: Path) -> dict[str, str]:
    golden = load_golden_state(golden_root)
    ctx = RenderContext(hco={"metadata": {}}, namespace="openshift-cnv")
    [rule] = render_asset(golden, golden.asset(ASSET), ctx, lookups=OfflineLookups())
    return {
        r["alert"]: r["annotations"]["runbook_url"]
        for group in rule["spec"]["groups"] for r in group["rules"]
    }


def test_default_is_the_runbooks_folder_of_this_repository() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    repository = project["urls"]["Repository"].rstrip("/")
    setting = load_golden_state(ROOT / "golden_state").asset(ASSET).params["runbook_base_url"]
    assert setting == f"{repository}/blob/main/runbooks"
    for alert, url in runbook_urls(ROOT / "golden_state").items():
        assert url == f"{setting}/{alert}.md"
        assert (ROOT / "runbooks" / f"{alert}.md").is_file(), alert


def test_one_setting_moves_every_link(tmp_path: Path) -> None:
    copy = tmp_path / "golden_state"
    shutil.copytree(ROOT / "golden_state", copy)
    catalog = copy / "catalog" / "observability.yaml"
    text = catalog.read_text()
    old = "runbook_base_url: https://github.com/kubevirt/virt-platform-autopilot/blob/main/runbooks"
    assert old in text
    catalog.write_text(text.replace(old, "runbook_base_url: https://docs.example.com/runbooks"))
    urls = runbook_urls(copy)
    assert len(urls) == 4
    assert all(url == f"https://docs.example.com/runbooks/{a}.md" for a, url in urls.items())
