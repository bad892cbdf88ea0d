"""The last render of each asset, kept so that a watch event costs no render.

An asset pass renders the asset from its inputs and hands each object to the
object pass. The objects it handed over, with their resources, are the asset's
:class:`Intent`, stamped with the watched inputs of that render
(:class:`Stamp`: the HyperConverged's resourceVersion, the nodes' detection
generation, the Infrastructure and Scheduler resourceVersions). A pass over one
object (an object key) reuses the intent only while the stamp still holds and no
asset pass is due; everything else that changes a render enqueues the asset
(HyperConverged, node and config triggers, a namespace appearing, the resync that
refreshes the lookups), drops the intents (a kind appearing or going away), or
fails the object pass (which drops the asset's intent), so the next pass renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autopilot.controller.ports import ClusterView
from autopilot.kube.resources import ObjectRef, ResourceInfo
from autopilot.kube.wellknown import INFRASTRUCTURES, SCHEDULERS

Identity = tuple[str, str, str, str]  # (group, kind, namespace, name)


def _rv(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion", ""))


@dataclass(frozen=True, slots=True)
class Stamp:
    """The watched inputs a render read, by version."""

    hco: str
    nodes: int
    infrastructure: str
    scheduler: str


def stamp_of(view: ClusterView, hco: Mapping[str, Any]) -> Stamp:
    """The stamp of a render of ``hco`` made now, from the caches."""
    return Stamp(hco=_rv(hco), nodes=view.nodes_generation,
                 infrastructure=_rv(view.config_object(INFRASTRUCTURES.kind)),
                 scheduler=_rv(view.config_object(SCHEDULERS.kind)))


def identity_of(obj: dict[str, Any]) -> Identity:
    """(group, kind, namespace, name) of a rendered object, as the state book maps it."""
    ref = ObjectRef.of(obj)
    return (ref.api_version.rpartition("/")[0], ref.kind, ref.namespace, ref.name)


@dataclass(frozen=True)
class Intent:
    """What one render of an asset handed to the object pass."""

    stamp: Stamp
    objects: Mapping[Identity, tuple[dict[str, Any], ResourceInfo]]


class Intents:
    """The last intent of each asset."""

    def __init__(self) -> None:
        self._by_asset: dict[str, Intent] = {}

    def get(self, asset: str, stamp: Stamp) -> Intent | None:
        """The asset's intent while its stamp is ``stamp``, else None."""
        intent = self._by_asset.get(asset)
        return intent if intent is not None and intent.stamp == stamp else None

    def put(self, asset: str, intent: Intent) -> None:
        """Keep the intent of the asset's latest render."""
        self._by_asset[asset] = intent

    def drop(self, asset: str) -> None:
        """The next pass over any object of the asset renders it again."""
        self._by_asset.pop(asset, None)

    def clear(self) -> None:
        """Every next pass renders again (the served kinds changed)."""
        self._by_asset.clear()
