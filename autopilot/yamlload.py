"""Safe YAML loading of rendered text: libyaml's speed, the reference loader's results.

Every render parses what its template wrote, and ruamel.yaml's pure-Python safe
loader (the reference here: YAML 1.2) spent half of the controller's start-up CPU
doing it. libyaml's parser (PyYAML's C extension) reads the same text about twenty
times faster. This module builds plain Python values from libyaml's nodes for the
cases rendered manifests are made of: mappings, sequences, strings, decimal
integers, plain floats, ``true``/``false``, nulls, anchors and aliases, each read
the YAML 1.2 way (``on`` and ``yes`` stay strings, ``0755`` is decimal 755).
Anything else (an explicit tag, a merge key, a duplicate key, a number in another
notation, a date, a ``%YAML`` directive, a tab, an anchor name libyaml would read
differently, text libyaml refuses) sends the whole text to the reference loader.
So a text the reference reads gives the reference's values, and an error is the
reference's; the one difference left is some malformed text the reference refuses
and libyaml reads (``key: >#``). :func:`load_all_with_lines` does the same for
ruamel's round-trip loader, with the line of every mapping, key and item (``lc``).
Without PyYAML's C extension every text goes to the reference loader.

ruamel.yaml is imported only when a text needs it: the controller reads its golden
state, kubeconfig and rendered output on the fast path, and ruamel's modules are
about 2 MB of its resident memory. Its errors are recognised with
:func:`yaml_problem`, which needs no import of ruamel either.
"""

from __future__ import annotations

import copy
import math
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ruamel.yaml import YAML

try:
    from yaml import _yaml as libyaml
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode
    from yaml.resolver import BaseResolver
except ImportError:  # PyYAML without libyaml, or no PyYAML: the reference loader alone
    libyaml = None

__all__ = ["LineCol", "LinedMap", "LinedSeq", "YamlProblem", "copy_tree", "load_all",
           "load_all_with_lines", "load_one", "yaml_problem"]

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_PLAIN = "!autopilot-plain"  # our mark for a plain scalar without a tag: ours to resolve
# libyaml's mark for an empty scalar tagged "!", which the reference reads as null
_BARE_TAG = "!autopilot-bare-tag"

_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+|\.[0-9]+)")
_INF = re.compile(r"([-+]?)\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
         "FALSE": False}
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
# Plain scalars the reference loader reads as an integer, a float, a date, a merge or
# a value key (its YAML 1.2 patterns, loosened where that is simpler): those the fast
# path has not decided by then (underscores, 0x/0o/0b, dates) go to the reference.
_OTHER = re.compile(
    r"[-+]?0[box]?[0-9a-fA-F_]+|[-+]?[0-9_]+"
    r"|[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
    r"|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*|<<|="
)


# An anchor or alias whose name libyaml would end early: it reads [A-Za-z0-9_-] only,
# YAML 1.2 (and the reference) any character but spaces and flow indicators.
_ANCHOR_OR_ALIAS = re.compile(r"(?:^|[\s\[{,])[&*][A-Za-z0-9_-]+[^\s\[\]{},A-Za-z0-9_-]")


class _Unsupported(Exception):
    """The text uses something the fast path leaves to the reference loader."""


def _reference(typ: str = "safe") -> YAML:
    from ruamel.yaml import YAML  # only for texts the fast path leaves

    return YAML(typ=typ, pure=True) if typ == "safe" else YAML(typ=typ)


@dataclass(frozen=True)
class YamlProblem:
    """What a reference loader's error says: its text, and where it is when it knows."""

    message: str
    marked: bool  # a ``MarkedYAMLError``: ``problem`` and ``line`` are its own
    problem: str
    line: int | None  # 1-based


def yaml_problem(exc: BaseException) -> YamlProblem | None:
    """The problem a YAML loader of this module raised (None: not a YAML error).

    Callers catch ``Exception`` and ask here, so they need not import ruamel: while
    ruamel is not loaded, no error can be its own.
    """
    errors = sys.modules.get("ruamel.yaml.error")
    if errors is None or not isinstance(exc, errors.YAMLError):
        return None
    if not isinstance(exc, errors.MarkedYAMLError):
        return YamlProblem(message=str(exc), marked=False, problem="", line=None)
    mark = exc.problem_mark
    return YamlProblem(message=str(exc), marked=True, problem=str(exc.problem or exc.context),
                       line=mark.line + 1 if mark else None)


def load_all(text: str) -> list[Any]:
    """Every document of ``text`` (``None`` for an empty one), as the reference reads them.

    Raises the reference loader's ``YAMLError`` for invalid text.
    """
    if _fast_path_may_read(text):
        try:
            return _fast_documents(text)
        except (_Unsupported, libyaml.YAMLError, RecursionError):
            pass
    return list(_reference().load_all(text))


def load_all_with_lines(text: str) -> list[Any]:
    """Like :func:`load_all`, with ruamel's round-trip reading as the reference: every
    mapping and sequence tells its lines through ``lc`` (``lc.line``, ``lc.key(k)``,
    ``lc.item(i)``), for messages naming the line of a file's entry."""
    if _fast_path_may_read(text):
        try:
            return _fast_documents(text, lines=True)
        except (_Unsupported, libyaml.YAMLError, RecursionError):
            pass
    return list(_reference("rt").load_all(text))


def load_one(text: str) -> Any:
    """The single document of ``text``, as :func:`load_all` reads it."""
    if _fast_path_may_read(text):
        try:
            docs = _fast_documents(text)
            if len(docs) <= 1:
                return docs[0] if docs else None
        except (_Unsupported, libyaml.YAMLError, RecursionError):
            pass
    return _reference().load(text)  # more than one document: its error


def copy_tree(value: Any) -> Any:
    """A deep copy of loaded YAML (mappings, sequences, scalars), several times faster
    than :func:`copy.deepcopy`: callers change what they render, the cache must not.

    Anything else (a set or a date from an explicit tag) is copied by ``deepcopy``.
    """
    kind = type(value)
    if kind is dict:
        return {k: copy_tree(v) for k, v in value.items()}
    if kind is list:
        return [copy_tree(v) for v in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def _fast_path_may_read(text: str) -> bool:
    """Whether to try libyaml: not for a version directive (the reference switches to
    YAML 1.1), for tabs (libyaml accepts them in places the reference refuses) nor for
    an anchor or alias name libyaml would read differently."""
    return (
        libyaml is not None and "%YAML" not in text and "\t" not in text
        and not _ANCHOR_OR_ALIAS.search(text)
    )


if libyaml is not None:

    class _Parser(libyaml.CParser, BaseResolver):  # type: ignore[misc]
        """libyaml's composer; plain untagged scalars keep a mark for :func:`_value`."""

        def __init__(self, text: str) -> None:
            libyaml.CParser.__init__(self, text)
            BaseResolver.__init__(self)

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is ScalarNode and implicit[0]:
                return _PLAIN
            if kind is ScalarNode and not implicit[1]:
                return _BARE_TAG
            return BaseResolver.resolve(self, kind, value, implicit)


def _fast_documents(text: str, *, lines: bool = False) -> list[Any]:
    parser = _Parser(text)
    try:
        docs = []
        while parser.check_node():
            # One builder per document: it knows nodes by id(), and a finished
            # document's nodes are freed, their ids free for the next one's.
            docs.append(_Builder(lines=lines).value(parser.get_node()))
        return docs
    finally:
        parser.dispose()


@dataclass(frozen=True)
class LineCol:
    """Where a mapping or sequence and its parts start (0-based), as ruamel's ``lc`` says."""

    line: int
    col: int
    parts: dict[Any, tuple[int, int]] = field(default_factory=dict)

    def key(self, key: Any) -> tuple[int, int]:
        """Line and column of a mapping's key."""
        return self.parts[key]

    def item(self, index: Any) -> tuple[int, int]:
        """Line and column of a sequence's item."""
        return self.parts[index]


class LinedMap(dict[Any, Any]):
    """A mapping that knows its lines (``lc``), for messages naming them."""

    lc: LineCol


class LinedSeq(list[Any]):
    """A sequence that knows its lines (``lc``)."""

    lc: LineCol


@dataclass
class _Builder:
    """Values from libyaml's nodes; an alias (the same node again) gives the same object."""

    lines: bool
    done: dict[int, Any] = field(default_factory=dict)
    open_: set[int] = field(default_factory=set)

    def value(self, node: Any) -> Any:
        key = id(node)
        if key in self.done:
            return self.done[key]
        if key in self.open_:
            raise _Unsupported("an alias inside its own anchor")
        if node.tag == _PLAIN:
            return _plain(node.value)
        if node.tag == _STR and isinstance(node, ScalarNode):
            return node.value
        self.open_.add(key)
        if node.tag == _SEQ and isinstance(node, SequenceNode):
            result: Any = self._sequence(node)
        elif node.tag == _MAP and isinstance(node, MappingNode):
            result = self._mapping(node)
        else:
            raise _Unsupported(f"tag {node.tag}")
        self.open_.discard(key)
        self.done[key] = result
        return result

    def _sequence(self, node: Any) -> list[Any]:
        items = [self.value(item) for item in node.value]
        if not self.lines:
            return items
        lined = LinedSeq(items)
        lined.lc = _where(node, {i: _at(item) for i, item in enumerate(node.value)})
        return lined

    def _mapping(self, node: Any) -> dict[Any, Any]:
        result: dict[Any, Any] = LinedMap() if self.lines else {}
        parts: dict[Any, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _Unsupported("a key that is not a scalar")
            k = self.value(key_node)
            if k in result:
                raise _Unsupported("a duplicate key")  # the reference's error names it
            result[k] = self.value(value_node)
            parts[k] = _at(key_node)
        if isinstance(result, LinedMap):
            result.lc = _where(node, parts)
        return result


def _at(node: Any) -> tuple[int, int]:
    return int(node.start_mark.line), int(node.start_mark.column)


def _where(node: Any, parts: dict[Any, tuple[int, int]]) -> LineCol:
    line, col = _at(node)
    return LineCol(line=line, col=col, parts=parts)


def _plain(value: str) -> Any:
    """A plain scalar under YAML 1.2's core schema, or :class:`_Unsupported`."""
    if value in _NULL:
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    inf = _INF.fullmatch(value)
    if inf:
        return -math.inf if inf.group(1) == "-" else math.inf
    if _NAN.fullmatch(value):
        return math.nan
    if _OTHER.fullmatch(value):
        raise _Unsupported(f"the plain scalar {value!r}")
    return value
