"""The activation gate: the HCO annotation ``platform.kubevirt.io/autopilot``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from autopilot.golden.catalog import Asset, GoldenState

AUTOPILOT_ANNOTATION = "platform.kubevirt.io/autopilot"

Mode = Literal["idle", "all", "list"]


@dataclass(frozen=True, slots=True)
class Activation:
    """What the autopilot may manage: nothing, everything, or an allowlist."""

    mode: Mode
    names: frozenset[str] = frozenset()
    unknown: tuple[str, ...] = ()
    raw: str = ""

    @property
    def idle(self) -> bool:
        """True when the autopilot must touch nothing."""
        return self.mode == "idle"

    def allows(self, asset: Asset) -> bool:
        """Whether ``asset`` passes the gate (its name or group is listed, or mode is all)."""
        if self.mode == "all":
            return True
        if self.mode == "idle":
            return False
        return asset.name in self.names or (bool(asset.group) and asset.group in self.names)

    def describe(self) -> str:
        """Short human form for logs."""
        if self.mode == "list":
            return "allowlist " + ",".join(sorted(self.names))
        return "all assets" if self.mode == "all" else "disabled"


def parse_activation(value: str | None, *, known: Iterable[str] = ()) -> Activation:
    """Parse the annotation value.

    Absent, empty or ``false`` (any case) = idle; ``true`` (any case) = all; anything
    else is a comma list of asset names or groups. Names not in ``known`` (when given)
    are reported in ``unknown``; the known ones still apply.
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
    known_set = set(known)
    unknown = tuple(sorted({n for n in names if known_set and n not in known_set}))
    return Activation(mode="list", names=frozenset(names), unknown=unknown, raw=raw)


def activation_for(hco: Mapping[str, Any], golden: GoldenState) -> Activation:
    """The activation of an HCO, with unknown names checked against the golden state."""
    annotations = (hco.get("metadata") or {}).get("annotations") or {}
    known = {a.name for a in golden.assets} | set(golden.groups())
    return parse_activation(annotations.get(AUTOPILOT_ANNOTATION), known=known)
