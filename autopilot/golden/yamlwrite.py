"""YAML written by libyaml: ``to_yaml`` in templates, the diffs of ``would apply``, renders.

ruamel's pure-Python writer used to write it, and importing ruamel cost the
controller about 1.5 MB resident (0.6 MB less at cold start once gone) for its whole
life as soon as one opt-in template (the KSM monitoring config) wrote YAML.
libyaml (PyYAML's C extension, which already reads what the controller reads)
writes the same text, given the same choices: block style, keys in their order,
no folding, UTF-8 as is, and the same quoting. The quoting is the part that
differs between the two writers: each quotes a string whose plain form its own
reader would not read as that string, and PyYAML reads YAML 1.1 where ruamel
reads YAML 1.2. :func:`quote_style` decides it here for both readers, so neither
writer's reader matters:

- double quotes for what YAML 1.1 readers (kubectl, most Go tools) read as a
  boolean, null or number (``on``, ``n``, ``0755``, ``1_000``), as before;
- single quotes for the rest of what YAML 1.2 reads as something else (``true``,
  ``1.5``, ``.inf``, ``2024-01-01``, ``=``), which is what ruamel wrote;
- anything else plain where libyaml allows it.

Texts longer than the old width of 4096 are no longer folded (neither writer folds
now). Left different, both read back the same: characters beyond the Basic
Multilingual Plane and the line breaks NEL, LS and PS, which libyaml escapes.
``tests/unit/golden/test_yamlwrite.py`` compares both writers on every object the
golden state renders, on scalars chosen to part them and on generated strings.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

try:
    from yaml import CSafeDumper
    from yaml import dump as _libyaml_dump
except ImportError:  # PyYAML without libyaml: templating falls back to ruamel
    CSafeDumper = None

__all__ = ["available", "dump", "quote_style"]

STR = "tag:yaml.org,2002:str"
FLOAT = "tag:yaml.org,2002:float"
# Never fold long strings nor move them to a line of their own: output stays stable and
# greppable. (The width used to be 4096, where the two writers part ways on longer texts.)
WIDTH = 2**31 - 1

# Plain scalars a YAML 1.1 reader (kubectl, most Go tools) would not read as strings.
_YAML11_BOOL_NULL = frozenset(
    {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", ""}
)
_YAML11_NUMBER = re.compile(
    r"^[-+]?(0[0-7_]+|0b[01_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?"
    r"|[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|\.[0-9_]+([eE][-+]?[0-9]+)?)$"
)


# Plain scalars YAML 1.2 (ruamel's reader) takes for something else than a string:
# booleans, null, integers (binary, octal, decimal, hexadecimal, underscores allowed),
# floats, the merge and value keys, timestamps. A number never starts with "_".
_YAML12_OTHER = re.compile(r"""
    true|True|TRUE|false|False|FALSE
  | ~|null|Null|NULL|
  | [-+]?0b[01_]+ | [-+]?0o?[0-7_]+ | [-+]?[0-9_]+ | [-+]?0x[0-9a-fA-F_]+
  | [-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)? | [-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
  | [-+]?\.[0-9_]+(?:[eE][-+][0-9]+)? | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
  | << | =
  | [0-9]{4}-[0-9]{2}-[0-9]{2}
  | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?
    (?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?
""", re.X)
# Floats as ruamel writes them that PyYAML's YAML 1.1 resolver would not read back as
# floats (no dot): told to it so that it writes them without a tag.
_EXPONENT_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$")


def reads_as_other_than_text_in_yaml11(text: str) -> bool:
    """Whether a YAML 1.1 reader takes ``text``, written plain, for a boolean, null or number."""
    return text.lower() in _YAML11_BOOL_NULL or bool(_YAML11_NUMBER.match(text))


def reads_as_other_than_text_in_yaml12(text: str) -> bool:
    """Whether a YAML 1.2 reader takes ``text``, written plain, for something else."""
    return not text.startswith("_") and _YAML12_OTHER.fullmatch(text) is not None


def quote_style(text: str) -> str | None:
    """The quotes ``text`` needs (``'"'``, ``"'"``), or None to let libyaml decide.

    libyaml writes plain where it can, else single quotes; ruamel, whose text this
    keeps, wrote double quotes instead for a string with a line break or a single
    quote in it.
    """
    if reads_as_other_than_text_in_yaml11(text) or "\n" in text:
        return '"'
    if reads_as_other_than_text_in_yaml12(text):
        return "'"
    if "'" in text and not _plain_allowed(text):
        return '"'
    return None


@functools.lru_cache(maxsize=1024)
def _plain_allowed(text: str) -> bool:
    # libyaml's own verdict: what it writes for the string left to it.
    written: str = _libyaml_dump(text, Dumper=CSafeDumper, allow_unicode=True, width=WIDTH)
    return not written.startswith(("'", '"'))


def available() -> bool:
    """Whether libyaml is there to write (else callers write with ruamel)."""
    return CSafeDumper is not None


@functools.cache
def _dumper() -> type[Any]:
    if CSafeDumper is None:
        raise RuntimeError("libyaml is not installed: callers ask available() first")

    class Dumper(CSafeDumper):  # type: ignore[misc]
        """PyYAML's safe representer over libyaml, quoting as :func:`quote_style` says."""

        def represent_str(self, data: str) -> Any:
            return self.represent_scalar(STR, data, style=quote_style(data))

        def represent_float(self, data: float) -> Any:
            # ruamel's YAML 1.2 spelling: no ".0" added before an exponent
            if data != data:
                value = ".nan"
            elif data in (math.inf, -math.inf):
                value = ".inf" if data > 0 else "-.inf"
            else:
                value = repr(data).lower()
            return self.represent_scalar(FLOAT, value)

    Dumper.add_representer(str, Dumper.represent_str)
    Dumper.add_representer(float, Dumper.represent_float)
    Dumper.add_implicit_resolver(FLOAT, _EXPONENT_FLOAT, list("-+0123456789"))
    return Dumper


def dump(value: Any) -> str:
    """Block-style YAML of ``value``, keys in their order, ending with a newline."""
    text: str = _libyaml_dump(
        value, Dumper=_dumper(), default_flow_style=False, sort_keys=False,
        allow_unicode=True, width=WIDTH,
    )
    return text
