"""The activation gate: the HCO annotation ``platform.kubevirt.io/autopilot``.

Allowlist entries are asset names, group names or aliases (other names for our
assets, from ``golden_state/aliases/``), all matched case-insensitively. An alias
may select only some objects of an asset; such an asset is allowed, and its
rendered objects are then narrowed to the selected ones (:meth:`Activation.select`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from autopilot.golden.aliases import Alias
from autopilot.golden.catalog import Asset, GoldenState

AUTOPILOT_ANNOTATION = "platform.kubevirt.io/autopilot"

Mode = Literal["idle", "all", "list"]
# difflib ratio above which an unknown name gets a "did you mean" suggestion.
SUGGESTION_CUTOFF = 0.75


@dataclass(frozen=True, slots=True)
class Activation:
    """What the autopilot may manage: nothing, everything, or an allowlist.

    ``names`` are the entries as written; ``selected`` the lower-cased asset and group
    names they select in full; ``partial`` maps an asset to the (kind, name) pairs an
    alias selects of it; ``suggestions`` maps an unknown entry to a close known name.
    """

    mode: Mode
    names: frozenset[str] = frozenset()
    unknown: tuple[str, ...] = ()
    raw: str = ""
    selected: frozenset[str] = frozenset()
    partial: Mapping[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    suggestions: Mapping[str, str] = field(default_factory=dict)

    @property
    def idle(self) -> bool:
        """True when the autopilot must touch nothing."""
        return self.mode == "idle"

    def _whole(self, asset: Asset) -> bool:
        return asset.name.lower() in self.selected or (
            bool(asset.group) and asset.group.lower() in self.selected
        )

    def allows(self, asset: Asset) -> bool:
        """Whether ``asset`` passes the gate (listed by name, group or alias, or mode all)."""
        if self.mode == "all":
            return True
        if self.mode == "idle":
            return False
        return self._whole(asset) or asset.name in self.partial

    def select(self, asset: Asset, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rendered ``objects`` of an allowed asset that the allowlist selects."""
        if self.mode != "list" or self._whole(asset):
            return objects
        wanted = self.partial.get(asset.name, frozenset())
        return [
            obj for obj in objects
            if (obj.get("kind"), (obj.get("metadata") or {}).get("name")) in wanted
        ]

    def describe(self) -> str:
        """Short human form for logs."""
        if self.mode == "list":
            return "allowlist " + ",".join(sorted(self.names))
        return "all assets" if self.mode == "all" else "disabled"

    def unknown_note(self) -> str:
        """The unknown entries, each with its suggestion when one is close."""
        return ", ".join(
            f'{name} (did you mean "{self.suggestions[name]}"?)'
            if name in self.suggestions else name
            for name in self.unknown
        )


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name`` (case-insensitive), when it is close enough."""
    by_key = {c.lower(): c for c in candidates}
    found = difflib.get_close_matches(name.lower(), sorted(by_key), n=1,
                                      cutoff=SUGGESTION_CUTOFF)
    return by_key[found[0]] if found else None


def parse_activation(
    value: str | None, *, known: Iterable[str] = (), aliases: Iterable[Alias] = ()
) -> Activation:
    """Parse the annotation value.

    Absent, empty or ``false`` (any case) = idle; ``true`` (any case) = all; anything
    else is a comma list of asset names, groups or aliases (any case). Names neither
    in ``known`` nor an alias (when ``known`` is given) are reported in ``unknown``,
    with a suggestion when one is close; the known ones still apply.
    """
    raw = "" if value is None else str(value)
    text = raw.strip()
    if not text or text.lower() == "false":
        return Activation(mode="idle", raw=raw)
    if text.lower() == "true":
        return Activation(mode="all", raw=raw)
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        return Activation(mode="idle", raw=raw)
    known_keys = {k.lower(): k for k in known}
    by_alias = {a.key: a for a in aliases}
    selected: set[str] = set()
    partial: dict[str, set[tuple[str, str]]] = {}
    unknown: set[str] = set()
    for name in names:
        alias = by_alias.get(name.lower())
        if alias is None:
            selected.add(name.lower())
            if known_keys and name.lower() not in known_keys:
                unknown.add(name)
        elif alias.objects:
            for target in alias.targets:
                partial.setdefault(target, set()).update((o.kind, o.name) for o in alias.objects)
        else:
            selected.update(t.lower() for t in alias.targets)
    candidates = [*known_keys.values(), *(a.name for a in by_alias.values())]
    suggestions = {n: s for n in unknown if (s := suggest(n, candidates)) is not None}
    return Activation(
        mode="list", names=frozenset(names), unknown=tuple(sorted(unknown)), raw=raw,
        selected=frozenset(selected),
        partial={k: frozenset(v) for k, v in partial.items()},
        suggestions=suggestions,
    )


def activation_for(hco: Mapping[str, Any], golden: GoldenState) -> Activation:
    """The activation of an HCO, with names checked against the golden state."""
    annotations = (hco.get("metadata") or {}).get("annotations") or {}
    known = {a.name for a in golden.assets} | set(golden.groups())
    return parse_activation(
        annotations.get(AUTOPILOT_ANNOTATION), known=known, aliases=golden.aliases
    )
