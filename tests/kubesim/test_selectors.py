"""Label and field selector parsing and matching."""

from __future__ import annotations

import pytest

from kubesim.errors import SimError
from kubesim.selectors import make_matcher, parse_label_selector

OBJ = {"metadata": {"name": "n1", "namespace": "ns", "labels": {"app": "x", "tier": "a"}},
       "involvedObject": {"name": "hco", "kind": "HyperConverged"}}


@pytest.mark.parametrize(("labels", "fields", "expected"), [
    ("app=x", "", True),
    ("app==x,tier=a", "", True),
    ("app!=x", "", False),
    ("missing!=x", "", True),
    ("tier in (a, b)", "", True),
    ("tier notin (a)", "", False),
    ("app,!missing", "", True),
    ("!app", "", False),
    ("", "metadata.name=n1", True),
    ("", "metadata.namespace!=ns", False),
    ("", "involvedObject.name=hco,involvedObject.kind=HyperConverged", True),
    ("app=x", "metadata.name=other", False),
])
def test_matching(labels: str, fields: str, expected: bool) -> None:
    matcher = make_matcher(labels, fields)
    assert matcher is not None and matcher(OBJ) is expected


def test_empty_selectors_select_everything() -> None:
    assert make_matcher("", None) is None


def test_bad_selector_is_a_400() -> None:
    with pytest.raises(SimError) as err:
        parse_label_selector("a=(b")
    assert err.value.code == 400
