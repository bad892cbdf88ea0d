"""Other names in the allowlist: the reference operator's names, mapped to our assets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autopilot.golden.catalog import GoldenState, GoldenStateError, load_golden_state
from autopilot.golden.gate import activation_for, parse_activation
from autopilot.golden.kinds import rendered_objects
from tests.unit.golden.conftest import SHARED, GoldenBuilder

FACTS = SHARED / "spec" / "content-facts.md"


def reference_names() -> tuple[set[str], set[str]]:
    """(asset names, group names) of the reference operator, from the facts sheet."""
    if not FACTS.is_file():
        pytest.skip(f"facts sheet not available ({FACTS})")
    text = FACTS.read_text(encoding="utf-8")
    table = text.split("## Names users already have", 1)[1]
    assets: set[str] = set()
    groups: set[str] = set()
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not line.startswith("|") or set(cells[0]) <= {"-", " "}:
            continue
        if cells[0].startswith("feature"):
            continue
        groups.update(g.strip() for g in cells[1].split(",") if g.strip() not in ("", "\u2013"))
        assets.update(re.findall(r"`([^`]+)`", cells[2]))
    assert len(assets) > 70 and "ifo-vmi-rules" in assets, "facts table format changed"
    return assets, groups


def hco(allowlist: str) -> dict[str, object]:
    return {"metadata": {"annotations": {"platform.kubevirt.io/autopilot": allowlist}}}


def test_every_reference_name_is_accepted(golden: GoldenState) -> None:
    assets, groups = reference_names()
    for name in sorted(assets | groups):
        for spelling in (name, name.upper()):
            act = activation_for(hco(spelling), golden)
            assert act.unknown == (), spelling
            assert any(act.allows(a) for a in golden.assets), f"{spelling} selects nothing"


def test_reference_names_select_the_mapped_assets(golden: GoldenState) -> None:
    def allowed(names: str) -> set[str]:
        act = activation_for(hco(names), golden)
        return {a.name for a in golden.assets if act.allows(a)}

    assert allowed("swap-enable") == {"swap-worker-machineconfig"}
    assert allowed("Logging-Collector-CRB-Audit") == {"logging-collect-audit-logs"}
    assert allowed("ksm-zero-only") == {a.name for a in golden.assets_by_group("ksm-zero-pages")}
    assert allowed("inflightoperations") == {
        a.name for a in golden.assets_by_group("in-flight-operations")}
    # Shared names keep their meaning: ours.
    assert allowed("thp-tuning") == {a.name for a in golden.assets_by_group("thp-tuning")}


def test_alias_with_objects_narrows_the_asset(golden: GoldenState) -> None:
    act = activation_for(hco("ifo-vmi-rules,IFO-VMIM-RULES"), golden)
    asset = golden.asset("in-flight-operations-kubevirt")
    assert act.allows(asset)
    assert not act.allows(golden.asset("in-flight-operations-hco"))
    objs = [{"kind": "OperationRuleSet", "metadata": {"name": n}}
            for n in ("vmi-rules", "vmim-rules", "vm-clone-rules")]
    assert [o["metadata"]["name"] for o in act.select(asset, objs)] == ["vmi-rules", "vmim-rules"]
    # Naming the asset itself (or its group) too selects everything again.
    both = activation_for(hco("ifo-vmi-rules,in-flight-operations-kubevirt"), golden)
    assert both.select(asset, objs) == objs
    assert parse_activation("true").select(asset, objs) == objs


def test_alias_objects_exist_in_what_the_target_renders(golden: GoldenState) -> None:
    found, _ = rendered_objects(golden)
    rendered = {(a.name, o["kind"], o["metadata"]["name"]) for a, o in found}
    missing = [
        (alias.name, target, sel.kind, sel.name)
        for alias in golden.aliases for target in alias.targets for sel in alias.objects
        if (target, sel.kind, sel.name) not in rendered
    ]
    assert missing == []


def test_unknown_name_gets_a_suggestion(golden: GoldenState) -> None:
    act = activation_for(hco("obserbability, swap-enabel ,zzzz-qqqq"), golden)
    assert act.unknown == ("obserbability", "swap-enabel", "zzzz-qqqq")
    assert act.suggestions == {"obserbability": "observability", "swap-enabel": "swap-enable"}
    note = act.unknown_note()
    assert 'obserbability (did you mean "observability"?)' in note
    assert note.endswith("zzzz-qqqq")


def test_our_names_are_case_insensitive() -> None:
    act = parse_activation("SWAP", known={"swap"})
    assert act.unknown == ()
    assert act.names == frozenset({"SWAP"})


ALIASES = "aliases/other.yaml"


@pytest.mark.parametrize(("content", "message"), [
    ("aliases:\n  - {name: x, to: [no-such-asset]}\n", "alias 'x': unknown asset or group "
     "'no-such-asset'"),
    ("aliases:\n  - {name: demo-cm, to: [demo-cm]}\n", "alias 'demo-cm' is already our asset"),
    ("aliases:\n  - {name: x, to: [demo-cm]}\n  - {name: X, to: [demo-cm]}\n",
     "alias 'X': duplicate"),
    ("aliases:\n  - {name: x, to: [demo], objects: [{kind: K, name: n}]}\n",
     "'objects' needs asset targets"),
    ("aliases:\n  - {name: x, to: [demo-cm], objects: [{kind: K}]}\n",
     "each object needs exactly kind and name"),
    ("aliases:\n  - {name: x, to: demo-cm}\n", "'to' must be a non-empty list"),
    ("aliases:\n  - {name: 'a,b', to: [demo-cm]}\n", "valid 'name'"),
    ("aliases:\n  - {name: x, to: [demo-cm], extra: 1}\n", "unknown key(s) extra"),
    ("names: []\n", "one mapping with an 'aliases' list"),
])
def test_bad_alias_file_is_a_load_error_naming_file_and_entry(
    make_golden: GoldenBuilder, content: str, message: str
) -> None:
    catalog = (
        "features:\n  - {name: demo, title: Demo, maturity: TP, switch: always,"
        " groups: [demo]}\n"
        "assets:\n  - {name: demo-cm, group: demo, path: assets/demo/cm.yaml.j2}\n"
    )
    root = make_golden({"catalog/demo.yaml": catalog, ALIASES: content})
    with pytest.raises(GoldenStateError) as err:
        load_golden_state(root)
    text = str(err.value)
    assert "\n" not in text and message in text, text
    assert text.startswith(str(Path(root) / ALIASES)), text
