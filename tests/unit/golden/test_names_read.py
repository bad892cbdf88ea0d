"""The names a template mentions, recorded as it compiles, and the one render that
is then enough for an asset whose template mentions none the variants differ in."""

from __future__ import annotations

import json

import jinja2

from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import OptimisticLookups, all_on_contexts, rendered_objects
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.names_read import NamesRead, names_read
from autopilot.golden.render import RenderError, render_asset


def environment(**templates: str) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.DictLoader(templates), extensions=[NamesRead])


def test_the_names_are_those_in_expressions_and_statements_not_in_text_or_comments() -> None:
    env = environment(t="topology here {# hco #}\n{% if params.x %}{{ a.b | to_json }}{% endif %}")
    env.get_template("t")
    names = names_read(env, "t")
    assert names is not None
    assert {"params", "x", "a", "b", "to_json", "if"} <= names
    assert "topology" not in names and "hco" not in names


def test_a_template_reading_another_says_so() -> None:
    env = environment(t="{% include 'u' %}", u="{{ topology }}")
    env.get_template("t")
    assert "include" in (names_read(env, "t") or ())


def test_a_template_never_compiled_has_no_names_known() -> None:
    env = environment(t="{{ x }}")
    assert names_read(env, "t") is None
    assert names_read(jinja2.Environment(), "t") is None


def test_rendering_once_what_varies_not_finds_every_object_all_variants_find(
    golden: GoldenState,
) -> None:
    # The whole walk, every asset in every variant, against the shortened one.
    every: set[str] = set()
    for asset in golden.assets:
        for ctx in all_on_contexts(golden):
            for lookups in (OfflineLookups(), OptimisticLookups()):
                try:
                    objs = render_asset(golden, asset, ctx, lookups=lookups)
                except RenderError:
                    continue
                every.update(json.dumps(o, sort_keys=True) for o in objs)
    found = {json.dumps(o, sort_keys=True) for _, o in rendered_objects(golden)[0]}
    assert found == every
