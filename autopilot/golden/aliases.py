"""Other names the allowlist accepts for our assets (``golden_state/aliases/*.yaml``).

Administrators who ran another operator for the same purpose have allowlists written
with its asset and group names. An alias file maps each such name to our asset or
group names; it is data, so Python never learns an asset by name.

File shape::

    aliases:
      - name: swap-enable                 # the other name (matched case-insensitively)
        to: [swap-worker-machineconfig]   # our asset and/or group names
      - name: ifo-vmi-rules
        to: [in-flight-operations-kubevirt]
        objects:                          # optional: only these objects of the targets
          - {kind: OperationRuleSet, name: vmi-rules}

Checked when the golden state loads; each problem is a one-line error naming the file,
line and entry: an unknown target, a duplicate alias, an alias that is already one of
our own names (ours always win, so such an entry would be dead), ``objects`` on a group.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autopilot.golden.yamlfile import Reporter, line_of, load_documents

ALIASES_DIR = "aliases"
_ENTRY_KEYS = frozenset({"name", "to", "objects"})
_OBJECT_KEYS = frozenset({"kind", "name"})


@dataclass(frozen=True, slots=True)
class ObjectSelector:
    """One object of a target asset, by kind and name."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Alias:
    """Another name for some of our assets or groups."""

    name: str
    targets: tuple[str, ...]
    objects: tuple[ObjectSelector, ...] = ()
    origin: str = ""
    source: str = ""

    @property
    def key(self) -> str:
        """The name as matched (lower case)."""
        return self.name.lower()

    def describe(self) -> str:
        """What the alias selects, e.g. ``a, b`` or ``a (OperationRuleSet vmi-rules)``."""
        text = ", ".join(self.targets)
        if self.objects:
            text += " (" + ", ".join(f"{o.kind} {o.name}" for o in self.objects) + ")"
        return text


def load_aliases(
    root: Path, *, assets: Collection[str], groups: Collection[str]
) -> tuple[Alias, ...]:
    """Every alias under ``root/aliases`` (``*.yaml``), validated against our names."""
    directory = root / ALIASES_DIR
    if not directory.is_dir():
        return ()
    ours = {n.lower(): n for n in (*assets, *groups)}
    seen: dict[str, Alias] = {}
    for path in sorted({*directory.glob("*.yaml"), *directory.glob("*.yml")}):
        rep = Reporter(path)
        docs = load_documents(path)
        if len(docs) != 1 or not isinstance(docs[0], Mapping):
            raise rep.error("an alias file must hold one mapping with an 'aliases' list")
        data = docs[0]
        unknown = sorted(str(k) for k in data if k != "aliases")
        entries = data.get("aliases")
        if unknown or not isinstance(entries, list):
            raise rep.error("an alias file must hold one mapping with an 'aliases' list")
        for i, raw in enumerate(entries):
            alias = _parse(rep, raw, line_of(entries, i), assets=assets, groups=groups)
            if alias.key in ours:
                raise rep.error(
                    f"alias {alias.name!r} is already our asset or group "
                    f"{ours[alias.key]!r}; remove the entry",
                    line=line_of(entries, i),
                )
            if alias.key in seen:
                raise rep.error(
                    f"alias {alias.name!r}: duplicate (first defined at {seen[alias.key].source})",
                    line=line_of(entries, i),
                )
            seen[alias.key] = alias
    return tuple(seen.values())


def _parse(
    rep: Reporter, raw: Any, line: int | None, *, assets: Collection[str],
    groups: Collection[str],
) -> Alias:
    if not isinstance(raw, Mapping):
        raise rep.error("an alias entry must be a mapping with name and to", line=line)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or name != name.strip() or "," in name:
        raise rep.error("alias without a valid 'name' (one word, no comma)", line=line)
    what = f"alias {name!r}"
    extra = sorted(str(k) for k in raw if k not in _ENTRY_KEYS)
    if extra:
        raise rep.error(f"{what}: unknown key(s) {', '.join(extra)}", line=line)
    targets = raw.get("to")
    if not isinstance(targets, list) or not targets or not all(
        isinstance(t, str) and t for t in targets
    ):
        raise rep.error(f"{what}: 'to' must be a non-empty list of asset or group names",
                        line=line)
    for target in targets:
        if target not in assets and target not in groups:
            raise rep.error(f"{what}: unknown asset or group {target!r}", line=line)
    objects = _objects(rep, raw.get("objects"), what, line)
    if objects and any(t not in assets for t in targets):
        raise rep.error(f"{what}: 'objects' needs asset targets, not groups", line=line)
    return Alias(
        name=name, targets=tuple(targets), objects=objects, origin=rep.path.stem,
        source=f"{rep.path}:{line}" if line else str(rep.path),
    )


def _objects(rep: Reporter, raw: Any, what: str, line: int | None) -> tuple[ObjectSelector, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise rep.error(f"{what}: 'objects' must be a non-empty list of {{kind, name}}",
                        line=line)
    out: list[ObjectSelector] = []
    for item in raw:
        if (
            not isinstance(item, Mapping)
            or set(item) != _OBJECT_KEYS
            or not all(isinstance(item[k], str) and item[k] for k in _OBJECT_KEYS)
        ):
            raise rep.error(f"{what}: each object needs exactly kind and name", line=line)
        out.append(ObjectSelector(kind=str(item["kind"]), name=str(item["name"])))
    return tuple(out)
