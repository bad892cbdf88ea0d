"""Work-queue keys: one per asset, one per managed object, and one for the tombstone sweep.

An asset key asks for a full pass: render the asset, then bring each of its objects
in line. An object key asks for a pass over one object the asset rendered, judged
against the asset's last render (:mod:`autopilot.controller.intents`); it is what a
watch event of a managed object enqueues.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

ASSET_PREFIX = "asset/"
OBJECT_PREFIX = "object/"
TOMBSTONES = "tombstones"


@dataclass(frozen=True, slots=True)
class ObjectKey:
    """One managed object of one asset: its identity as the state book maps it."""

    asset: str
    group: str
    kind: str
    namespace: str
    name: str

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """(group, kind, namespace, name)."""
        return (self.group, self.kind, self.namespace, self.name)


def asset_key(name: str) -> str:
    """Queue key of an asset."""
    return ASSET_PREFIX + name


def asset_of(key: str) -> str | None:
    """Asset name of a key, or None for non-asset keys."""
    return key[len(ASSET_PREFIX) :] if key.startswith(ASSET_PREFIX) else None


def object_key(*, asset: str, group: str, kind: str, namespace: str, name: str) -> str:
    """Queue key of one managed object of ``asset``."""
    # JSON: names, kinds and groups never need escaping against each other.
    return OBJECT_PREFIX + json.dumps([asset, group, kind, namespace, name],
                                      separators=(",", ":"))


def object_of(key: str) -> ObjectKey | None:
    """The object an object key names, or None for other keys (and malformed ones)."""
    if not key.startswith(OBJECT_PREFIX):
        return None
    try:
        parts = json.loads(key[len(OBJECT_PREFIX) :])
    except ValueError:
        return None
    if not isinstance(parts, list) or len(parts) != 5 or not all(
            isinstance(p, str) for p in parts):
        return None
    return ObjectKey(*parts)
