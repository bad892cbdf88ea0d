"""YAML written by libyaml is the text ruamel wrote, and both YAML 1.1 and 1.2 read it back.

``to_yaml`` (templates, the diffs of ``would apply``, ``autopilot render``, the RBAC
files) moved from ruamel's writer to libyaml's so that the controller never imports
ruamel. The reference here is the writer it replaced, which stays as the fallback
when libyaml is missing (``templating._yaml``).
"""

from __future__ import annotations

import io
import math
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from autopilot import yamlload
from autopilot.golden import templating, yamlwrite
from autopilot.golden.catalog import GoldenState
from tests.unit.golden.test_yamlload import reference, rendered_texts, same

pytestmark = pytest.mark.skipif(
    not yamlwrite.available(), reason="PyYAML's libyaml extension is not installed"
)


def ruamel_wrote(value: Any) -> str:
    stream = io.StringIO()
    templating._yaml().dump(value, stream)
    text = stream.getvalue()
    if text.endswith("\n...\n"):
        text = text[: -len("\n...\n")]
    return text.rstrip("\n")


# Where the two writers' defaults or readers part: YAML 1.1 and 1.2 scalars, quotes,
# line breaks, indicators, spaces, non-ASCII, floats.
SCALARS: list[Any] = [
    "yes", "Yes", "OFF", "yEs", "on", "n", "y", "0755", "09", "08.5", "1_000", "_1", "1_",
    "0b101", "0b", "0o17", "0o", "0x1F", "0x", "1e3", "12e", "1e", "1.0e+3", "+1", "-0", "+0",
    "00", "0.", "-.5", ".5", "._", "1:20", "190:20:30", "+12:30", "true", "True", "FALSE",
    "1.5", ".inf", "-.inf", "+.inf", ".Inf", ".nan", "2024-01-01", "2024-1-1 10:00",
    "2001-12-14t21:59:43.10-05:00", "=", "<<", "~", "null", "NULL", "", "-", "- x", ":",
    ":x", "x:", "a: b", "#x", "x #y", "it's", "'q'", '"dq"', "a'b c", " 'lead", "a\nb",
    "a\n\nb", "it's\nx", "line\r\nx", " lead", "trail ", "\t", "a\tb", "@x", "`x", "%x",
    "!x", "&x", "*x", "|", "> x", "?", "? x", "[a]", "{a}", "a,b", "é", "日本", "ß",
    "\x7f", "\ufeff", "x" * 5000, "a b " * 3000, "data:;base64," + "QUJD" * 2000,
    0, 1, -7, 1.5, 1e20, -0.0, 1e-7, math.inf, -math.inf, True, False, None,
]


def shapes(value: Any) -> list[Any]:
    """The value alone, as a mapping value, a sequence item, and a key."""
    key = value if isinstance(value, str | int | float | bool) or value is None else "k"
    return [value, {"k": value}, [value], {key: [value]}]


@pytest.mark.parametrize("value", SCALARS, ids=repr)
def test_chosen_scalars_are_written_as_ruamel_wrote_them(value: Any) -> None:
    for shape in shapes(value):
        assert templating.to_yaml(shape) == ruamel_wrote(shape), shape


def test_every_rendered_object_is_written_as_ruamel_wrote_it(golden: GoldenState) -> None:
    documents = [doc for text in rendered_texts(golden) for doc in yamlload.load_all(text)]
    assert len(documents) > 50
    for doc in documents:
        assert templating.to_yaml(doc) == ruamel_wrote(doc), doc.get("metadata")


def reads_back(text: str) -> None:
    """Both YAML versions read ``to_yaml(text)`` back as ``text``."""
    written = templating.to_yaml({"k": text})
    assert same(reference(written), [{"k": text}]), written  # YAML 1.2 (ruamel)
    assert yaml.load(written, Loader=yaml.CSafeLoader) == {"k": text}, written  # YAML 1.1


@pytest.mark.parametrize("text", [s for s in SCALARS if isinstance(s, str)] + [
    "\u2028", "a\u2029b", "\x85", "\U0001F600",
], ids=lambda s: repr(s)[:40])
def test_strings_read_back_in_yaml_1_1_and_1_2(text: str) -> None:
    reads_back(text)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_generated_strings_read_back(text: str) -> None:
    reads_back(text)


# Where the texts differ, both read back the same (above): beyond the Basic Multilingual
# Plane libyaml writes escapes ("\U0001F600") where ruamel wrote the character, and
# the line breaks of YAML 1.1 other than "\n" (NEL, LS, PS) it writes escaped where
# ruamel folded a single-quoted line.
OTHER_BREAKS = "\x85\u2028\u2029"


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",), max_codepoint=0xFFFF,
                             blacklist_characters=OTHER_BREAKS), max_size=40))
def test_generated_strings_are_written_as_ruamel_wrote_them(text: str) -> None:
    assert templating.to_yaml({"k": text}) == ruamel_wrote({"k": text})
