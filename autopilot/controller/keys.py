"""Work-queue keys: one per asset, plus one for the tombstone sweep."""

from __future__ import annotations

ASSET_PREFIX = "asset/"
TOMBSTONES = "tombstones"


def asset_key(name: str) -> str:
    """Queue key of an asset."""
    return ASSET_PREFIX + name


def asset_of(key: str) -> str | None:
    """Asset name of a key, or None for non-asset keys."""
    return key[len(ASSET_PREFIX) :] if key.startswith(ASSET_PREFIX) else None
