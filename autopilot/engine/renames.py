"""``disabled-resources`` rules written for objects that now have another name.

An administrator who ran another operator for the same purpose may have excluded one
of its objects by name. When a tombstone declares that object renamed (its ``after``
names one replacement object, see :mod:`autopilot.golden.tombstones`), a rule that
matches the old object also excludes the replacement: the administrator's "do not
manage this" survives the rename. Rules only ever grow; nothing an administrator
wrote is narrowed. Renames across kinds are not followed: a rule about a ClusterRole
never excludes an object of another kind.
"""

from __future__ import annotations

import fnmatch
import glob
from collections.abc import Iterable

from autopilot.engine.exclusions import Exclusion
from autopilot.golden.tombstones import Tombstone


def _matches_old(rule: Exclusion, tomb: Tombstone) -> bool:
    if rule.kind != tomb.kind or not fnmatch.fnmatchcase(tomb.name, rule.name):
        return False
    return rule.namespace is None or fnmatch.fnmatchcase(tomb.namespace, rule.namespace)


def follow_renames(
    exclusions: Iterable[Exclusion], tombstones: Iterable[Tombstone]
) -> list[Exclusion]:
    """``exclusions`` plus an exact rule for each renamed object an old-name rule matches."""
    rules = list(exclusions)
    renamed = [
        t for t in tombstones
        if t.after is not None and t.after.names_object and t.after.kind == t.kind
    ]
    extra: list[Exclusion] = []
    for tomb in renamed:
        assert tomb.after is not None
        if any(_matches_old(rule, tomb) for rule in rules):
            namespace = tomb.after.namespace
            extra.append(Exclusion(
                kind=tomb.after.kind,
                name=glob.escape(tomb.after.name),
                namespace=None if namespace is None else glob.escape(namespace),
            ))
    return rules + [e for e in extra if e not in rules]
