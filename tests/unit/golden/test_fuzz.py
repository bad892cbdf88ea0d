"""Arbitrary catalogue content and annotation values never crash the loader or the gate."""

from __future__ import annotations

import json
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from autopilot.golden.catalog import GoldenStateError, load_golden_state
from autopilot.golden.gate import parse_activation
from tests.support.golden_files import MINIMAL_TEMPLATE

KEYS = st.sampled_from([
    "features", "assets", "excluded_assets", "plurals", "name", "path", "install", "order",
    "conditions", "type", "key", "value", "detector", "field", "group", "params", "maturity",
    "assets", "groups", "requires", "gate_crd", "title", "annotation", "hardware", "topology",
])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 500), st.text(max_size=12),
    st.sampled_from(["demo", "demo-cm", "assets/demo/cm.yaml.j2", "always", "opt-in", "TP",
                     "annotation", "hardware", "topology", "gpuPresent", "isHCP", "true"]),
)
VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(content=st.dictionaries(KEYS, VALUES, max_size=4))
def test_loader_only_raises_golden_state_error(content: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "catalog").mkdir()
        (root / "assets" / "demo").mkdir(parents=True)
        (root / "VERSION").write_text("1\n")
        (root / "assets" / "demo" / "cm.yaml.j2").write_text(textwrap.dedent(MINIMAL_TEMPLATE))
        # JSON is YAML: any generated structure is a valid document
        (root / "catalog" / "x.yaml").write_text(json.dumps(content))
        try:
            load_golden_state(root)
        except GoldenStateError as exc:
            assert "\n" not in str(exc) and "x.yaml" in str(exc)


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.none(), st.text(max_size=40)))
def test_activation_never_fails(value: str | None) -> None:
    act = parse_activation(value, known={"a", "b"})
    assert act.mode in ("idle", "all", "list")
    if act.mode == "list":
        assert act.names and all(n.strip() == n and n for n in act.names)
        assert set(act.unknown) <= act.names
