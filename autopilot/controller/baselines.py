"""The last state an object was known to be in line, and judging a watch event against it.

After an apply, or a dry run that found nothing to change, the object pass keeps a
:class:`Baseline` of the object: the desired object's fingerprint, a fingerprint of
the object's content (what :func:`~autopilot.engine.drift.diff_paths` compares:
no status, no server-managed metadata) and the fields our apply sets. When the same
desired object meets a new version of the live one, :func:`judge` tells without a
request:

- ``IN_SYNC``: the content is what it was (a status update, a managedFields-only
  change): a dry run would find nothing to change;
- ``DRIFTED``: the content changed *and* another writer took (or removed) a field
  our apply sets: the server moves a field's ownership only when its value changes,
  so our apply has something to put back;
- ``UNSURE``: anything else (a field we do not set changed, an edit made under our
  own field manager, a different desired object): the server-side dry run decides.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from autopilot.antithrash.flips import FieldPath, applied_by
from autopilot.engine import drift
from autopilot.runtime.lru import LruMap


class Judgement(Enum):
    """What a watch event's object says against the baseline."""

    IN_SYNC = "in-sync"
    DRIFTED = "drifted"
    UNSURE = "unsure"


@dataclass(frozen=True, slots=True)
class Baseline:
    """One object in line with one desired object."""

    fingerprint: str  # of the desired object (after the user's customizations)
    content: str  # of the object's compared content
    owned: frozenset[FieldPath]  # fields our Apply entry held then
    wanted: frozenset[FieldPath]  # fields our apply of this desired object sets


def content_fingerprint(obj: Mapping[str, Any]) -> str:
    """A stable hash of what a drift check compares of ``obj``
    (:func:`~autopilot.engine.drift.compare_view`)."""
    return drift.desired_fingerprint(drift.compare_view(obj))


def baseline_of(*, fingerprint: str, obj: Mapping[str, Any], wanted_from: Mapping[str, Any],
                manager: str) -> Baseline:
    """The baseline of ``obj`` (the apply's answer, or a live object found in sync);
    ``wanted_from`` carries our Apply entry for this desired object (the apply's answer,
    or the dry run's)."""
    return Baseline(fingerprint=fingerprint, content=content_fingerprint(obj),
                    owned=applied_by(obj, manager), wanted=applied_by(wanted_from, manager))


def judge(base: Baseline | None, *, fingerprint: str, live: Mapping[str, Any],
          manager: str) -> Judgement:
    """Judge ``live`` against ``base`` for the desired object of ``fingerprint``."""
    if base is None or base.fingerprint != fingerprint:
        return Judgement.UNSURE
    if content_fingerprint(live) == base.content:
        return Judgement.IN_SYNC
    if base.owned - applied_by(live, manager):
        return Judgement.DRIFTED
    return Judgement.UNSURE


class Baselines(LruMap[Hashable, Baseline]):
    """Baselines by object; the least recently used beyond ``max_entries`` are dropped."""

    def __init__(self, max_entries: int = 10_000) -> None:
        super().__init__(max_entries)
