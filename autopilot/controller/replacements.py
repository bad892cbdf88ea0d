"""May a tombstone delete its object now? The ``after`` condition, judged from the book.

A tombstone with ``after`` waits until the object that replaces the old one is applied
and compliant: the named object (or every object) the replacing asset rendered on its
latest pass has compliance 1. Whatever the tombstone says, an object that one of our
assets renders right now is never deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from autopilot.controller.state import StateBook
from autopilot.golden.tombstones import Tombstone

State = Literal["ready", "waiting", "inactive", "rendered"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """``ready`` to delete, ``waiting`` for the replacement, the replacement is
    ``inactive`` here, or the object is ``rendered`` by one of our assets."""

    state: State
    note: str = ""


class ReplacementCheck:
    """Judges tombstones against what the reconciler applied (a callable for the sweeper)."""

    def __init__(self, *, book: StateBook, reconciled: Callable[[str], bool]) -> None:
        self._book = book
        self._reconciled = reconciled

    def __call__(self, tomb: Tombstone) -> Verdict:
        owner = self._book.asset_for(
            kind=tomb.kind, group=tomb.api_version.rpartition("/")[0], name=tomb.name,
            namespace=tomb.namespace,
        )
        if owner is not None:
            return Verdict("rendered", f"not deleted: asset {owner} renders this object")
        after = tomb.after
        if after is None:
            return Verdict("ready")
        if not self._reconciled(after.asset):
            return Verdict("waiting", f"waiting for {after.describe()}: not reconciled yet")
        refs = [
            ref for ref in self._book.asset_objects(after.asset)
            if after.matches(kind=ref.kind, name=ref.name, namespace=ref.namespace)
        ]
        if not refs:
            return Verdict(
                "inactive",
                f"kept: its replacement {after.describe()} is not managed on this cluster "
                "(not allowlisted, switched off, excluded or not installed)",
            )
        for ref in refs:
            st = self._book.find(ref)
            if st is None or st.compliance != 1:
                return Verdict(
                    "waiting",
                    f"waiting for {after.describe()} to be applied and compliant",
                )
        return Verdict("ready")
