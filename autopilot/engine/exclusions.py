"""The HCO's ``platform.kubevirt.io/disabled-resources`` annotation.

A YAML list of ``{kind, name, namespace?}``. ``kind`` matches exactly
(Kubernetes kinds are case-sensitive); ``name`` and ``namespace`` are
case-sensitive shell globs (``*``, ``?``, ``[...]``, via
:func:`fnmatch.fnmatchcase`). Without ``namespace`` (or with ``null``) a rule
matches every namespace and cluster-scoped objects; cluster-scoped objects have
namespace ``""``, which ``*`` also matches.

Unknown keys are an error rather than ignored: a typo such as ``namepsace``
would otherwise silently widen the rule to every namespace.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from autopilot.yamlload import load_one

_KEYS: Final = ("kind", "name", "namespace")


class ExclusionError(ValueError):
    """The annotation cannot be used; ``str()`` is a one-line reason."""


@dataclass(frozen=True, slots=True)
class Exclusion:
    """One rule: objects of ``kind`` whose name (and namespace) match the globs."""

    kind: str
    name: str
    namespace: str | None = None

    def matches(self, obj: dict[str, Any]) -> bool:
        """True if ``obj`` (a Kubernetes object dict) falls under this rule."""
        if not isinstance(obj, dict) or obj.get("kind") != self.kind:
            return False
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        name = meta.get("name")
        namespace = meta.get("namespace") or ""
        if not isinstance(name, str) or not isinstance(namespace, str):
            return False
        if not fnmatch.fnmatchcase(name, self.name):
            return False
        return self.namespace is None or fnmatch.fnmatchcase(namespace, self.namespace)


def parse_disabled_resources(text: str | None) -> list[Exclusion]:
    """Parse the annotation; empty or absent means no exclusions.

    Raises :class:`ExclusionError` for invalid YAML or a bad shape.
    """
    if text is None:
        return []
    if not isinstance(text, str):
        raise ExclusionError("expected a YAML list of {kind, name, namespace?}")
    if not text.strip():
        return []
    parsed = _parse_cached(text)
    if isinstance(parsed, str):
        raise ExclusionError(parsed)
    return list(parsed)


# The HCO is re-read on every resync and HCO event while the annotation rarely
# changes; parsing a large value in pure Python is slow, so remember a few.
@functools.lru_cache(maxsize=8)
def _parse_cached(text: str) -> tuple[Exclusion, ...] | str:
    try:
        return tuple(_parse(text))
    except ExclusionError as exc:
        return str(exc)


def _parse(text: str) -> list[Exclusion]:
    try:
        doc = load_one(text)
    except Exception as exc:  # the parser raises assorted types on bad input
        raise ExclusionError(f"invalid YAML: {_one_line(exc)}") from None
    if doc is None:
        return []
    if not isinstance(doc, list):
        raise ExclusionError(
            f"expected a YAML list of {{kind, name, namespace?}}, got {_type(doc)}"
        )
    return [_item(number, item) for number, item in enumerate(doc, start=1)]


def _item(number: int, item: Any) -> Exclusion:
    where = f"item {number}"
    if not isinstance(item, dict):
        raise ExclusionError(f"{where}: expected a mapping with kind and name, got {_type(item)}")
    unknown = sorted(str(k) for k in item if k not in _KEYS)
    if unknown:
        raise ExclusionError(
            f"{where}: unknown key(s) {', '.join(_clip(k) for k in unknown)}; "
            "allowed: kind, name, namespace"
        )
    values: dict[str, str | None] = {}
    for key in _KEYS:
        value = item.get(key)
        if value is None and key == "namespace":
            values[key] = None
            continue
        if value is None:
            raise ExclusionError(f"{where}: missing {key!r}")
        if not isinstance(value, str):
            raise ExclusionError(f"{where}: {key!r} must be a string, got {_type(value)}")
        if key != "namespace" and not value:
            raise ExclusionError(f"{where}: {key!r} is empty")
        values[key] = value
    return Exclusion(
        kind=values["kind"] or "", name=values["name"] or "", namespace=values["namespace"]
    )


def is_excluded(obj: dict[str, Any], exclusions: Iterable[Exclusion]) -> bool:
    """True if any rule matches ``obj``."""
    return any(rule.matches(obj) for rule in exclusions)


def _type(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _one_line(exc: BaseException) -> str:
    return _clip(" ".join(str(exc).split()) or type(exc).__name__, 200)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
