"""The fast YAML loader gives exactly what the reference loader (ruamel, YAML 1.2) gives.

Rendered output is read by :mod:`autopilot.yamlload`: libyaml builds the
common cases, everything else goes to ruamel's safe loader. These tests compare the
two on what the golden state renders, on the scalars where YAML 1.1 and 1.2 part
ways, on generated scalars, and on broken text (same error).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from autopilot import yamlload
from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import all_on_contexts
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.render import RenderError, render_text
from autopilot.golden.yamlfile import line_of, rt_yaml
from tests.unit.golden.conftest import PROJECT

pytestmark = pytest.mark.skipif(
    yamlload.libyaml is None, reason="PyYAML's libyaml extension is not installed"
)


def reference(text: str) -> list[Any]:
    return list(YAML(typ="safe", pure=True).load_all(text))


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to itself and types compared (1 is not 1.0 nor True)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def outcome(load: Any, text: str) -> tuple[str, Any]:
    try:
        return "ok", load(text)
    except Exception as exc:  # the reference raises ValueError too ("key: ._")
        return "error", f"{type(exc).__name__}: {exc}"


def assert_reads_like_reference(text: str) -> None:
    """Same values when the reference reads ``text``; when it refuses, libyaml may accept
    (it reads some malformed text, ``key: >#`` say), else the error is the reference's."""
    got, want = outcome(yamlload.load_all, text), outcome(reference, text)
    if want[0] == "ok":
        assert got[0] == "ok", (text, got)
        assert same(got[1], want[1]), (text, got, want)
    elif got[0] == "error":
        assert got == want


def rendered_texts(golden: GoldenState) -> list[str]:
    """Every distinct text the shipped golden state renders in the all-on variants."""
    texts: set[str] = set()
    for ctx in all_on_contexts(golden):
        for asset in golden.assets:
            try:
                texts.add(render_text(golden, asset, ctx, lookups=OfflineLookups()))
            except RenderError:
                continue
    return sorted(texts)


def test_the_golden_state_output_reads_the_same_and_takes_the_fast_path(
    golden: GoldenState,
) -> None:
    texts = rendered_texts(golden)
    assert len(texts) > 20
    for text in texts:
        fast = yamlload._fast_documents(text)  # no fallback: the speed is real
        assert same(fast, reference(text)), text[:200]
        assert same(yamlload.load_all(text), fast)


@pytest.mark.parametrize(
    "scalar",
    [
        # YAML 1.1 booleans and octals are strings or decimals in 1.2
        "on", "off", "yes", "no", "y", "N", "0755", "09", "1:20", "1:20.5",
        # 1.2 booleans, nulls, numbers
        "true", "False", "TRUE", "null", "~", "", "NULL", "Null", "nULL",
        "0", "-0", "+12", "1.", "1.5", "-.5", ".5", "1e3", "1E-3", "1.5e+3", ".5e3",
        ".inf", "-.Inf", "+.INF", ".nan", ".NaN",
        # other notations: left to the reference
        "1_000", "0x1F", "0o17", "0b101", "1.2.3", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
        "=", "<<", "_", ".", "-", "+",
        # strings
        "v1.2", "1h", "30s", "10.0.0.0/8", "-c", "a b", "'quoted'", '"1"', "!!str 12",
        "!!int '7'", "!!float 1", "!!binary aGk=", "!custom x", "[1, on, 0x10]", "{a: 1}",
    ],
)
def test_scalars_read_as_the_reference_reads_them(scalar: str) -> None:
    text = f"key: {scalar}\nlist:\n- {scalar}\n"
    got, want = outcome(yamlload.load_all, text), outcome(reference, text)
    assert got[0] == want[0], (got, want)
    assert same(got[1], want[1]) if got[0] == "ok" else got == want


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate key: the reference's error
        "a: &x {b: 1}\nc: *x\n",
        "a: &n-1 [1, 2]\nb: *n-1\n",
        "key: &0?0\n",  # YAML 1.2 reads the anchor "0?0", libyaml "0" then "?0"
        "a: *0:x\n",
        "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n",  # merge key
        "? [1, 2]\n: v\n",  # a sequence as key
        "%YAML 1.1\n---\na: on\n",
        "---\n---\na: 1\n...\n",
        "a: {b: [1]}\n---\nc: d\n---\n- e\n",
        "a: [1, 2\n",  # broken: the reference's error
        "a:\tb\n\t- c\n",
        "s: |\n  line\n   more\nf: >-\n  folded\n  text\n",
        "k: 'it''s'\nd: \"\\u00e9\\t\"\n",
        "!!set {a, b}\n",
        "",
    ],
)
def test_documents_read_as_the_reference_reads_them(text: str) -> None:
    got, want = outcome(yamlload.load_all, text), outcome(reference, text)
    assert got[0] == want[0], (got, want)
    assert same(got[1], want[1]) if got[0] == "ok" else got == want


def test_quoted_ampersands_and_plain_anchors_take_the_fast_path() -> None:
    text = 'rule: "has(a) && b"\nops: &ops [x]\nagain: *ops\n'
    assert yamlload._fast_path_may_read(text)
    assert yamlload.load_all(text) == reference(text)
    assert not yamlload._fast_path_may_read("k: &a?b x\n")


def test_copies_share_nothing_with_the_cache() -> None:
    loaded = yamlload.load_one("a: {b: [1, {c: d}]}\n")
    copied = yamlload.copy_tree(loaded)
    assert copied == loaded
    copied["a"]["b"][1]["c"] = "changed"
    assert loaded["a"]["b"][1]["c"] == "d"


def test_one_document() -> None:
    assert yamlload.load_one("a: [1, x, on]\n") == {"a": [1, "x", "on"]}
    assert yamlload.load_one("") is None
    with pytest.raises(YAMLError):
        yamlload.load_one("a: 1\n---\nb: 2\n")


@pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789_.eE+-xobOoTtrufalsnNIiy:~<=!&*[]{},#|>-? '\"\n\t\\",
               max_size=16))
def test_generated_text_reads_as_the_reference_reads_it(fragment: str) -> None:
    for text in (f"key: {fragment}\n", fragment, f"- {fragment}\n- x\n",
                 f"a:\n  b: {fragment}\n  c: [{fragment}]\n"):
        assert_reads_like_reference(text)


def positions(value: Any, path: str = "") -> dict[str, int | None]:
    """line_of for every mapping, key and sequence item under ``value``."""
    found: dict[str, int | None] = {path: line_of(value)}
    if isinstance(value, dict):
        for k, v in value.items():
            found[f"{path}/{k}:key"] = line_of(value, k)
            found.update(positions(v, f"{path}/{k}"))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found[f"{path}[{i}]:item"] = line_of(value, i)
            found.update(positions(v, f"{path}[{i}]"))
    return found


def golden_files() -> list[Path]:
    root = PROJECT / "golden_state"
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))


def test_golden_state_files_read_with_the_round_trip_loaders_values_and_lines() -> None:
    files = golden_files()
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8")
        fast = yamlload._fast_documents(text, lines=True)  # no fallback: the speed is real
        want = list(rt_yaml().load_all(text))
        assert fast == want, path
        assert [positions(d) for d in fast] == [positions(d) for d in want], path
        assert yamlload.load_all_with_lines(text) == fast


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb:\n  - x\n  - {c: 2}\n  -\n    d: 3\n",
        "- a\n- - b\n  - c\n",
        "k: >-\n  folded\n  text\nm: |\n  lit\n",
        "x: &a [1]\ny: *a\n",
    ],
)
def test_lines_as_the_round_trip_loader_tells_them(text: str) -> None:
    fast = yamlload.load_all_with_lines(text)
    want = list(rt_yaml().load_all(text))
    assert fast == want
    assert [positions(d) for d in fast] == [positions(d) for d in want]
