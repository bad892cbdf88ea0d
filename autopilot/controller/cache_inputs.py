"""Render inputs from the watch caches: what the reconciler and ``/debug/render`` render from.

Both read the HCO, the node summary, the Infrastructure and Scheduler objects and
the lookups through :meth:`CacheInputs.read`, so the debug endpoint shows exactly
what the next pass applies. An asset pass names its asset, so the lookups its
templates make are recorded against it (a change of what they read re-renders it).
Summarising the nodes is O(nodes): it runs in a worker thread, and only after a
node change that detection can see (the cache's ``nodes_generation``), not on
every pass over every asset.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from typing import Any

from autopilot.controller.ports import ClusterView
from autopilot.golden.context import NodesSummary
from autopilot.golden.inputs import RenderInputs
from autopilot.golden.lookups import Lookups
from autopilot.kube.wellknown import INFRASTRUCTURES, SCHEDULERS


class CacheInputs:
    """Builds :class:`RenderInputs` from a :class:`ClusterView` (call on the event loop)."""

    def __init__(
        self,
        *,
        view: ClusterView,
        namespace: str,
        lookups: Lookups,
        lookups_for: Callable[[str], Lookups] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._view = view
        self._namespace = namespace
        self.lookups = lookups
        self._lookups_for = lookups_for
        self._environ = dict(os.environ if environ is None else environ)
        self._summary: tuple[int, NodesSummary] | None = None

    async def read(self, hco: Mapping[str, Any], *, asset: str | None = None) -> RenderInputs:
        """The inputs for a render of ``hco`` (for ``asset``) as the caches show the cluster."""
        generation = self._view.nodes_generation
        summary = self._summary
        if summary is None or summary[0] != generation:
            # The caches are read on the loop (they are not thread-safe); the summary
            # of a copy is made off it.
            nodes = list(self._view.nodes())
            summary = (generation, await asyncio.to_thread(NodesSummary.of, nodes))
            self._summary = summary
        return RenderInputs(
            hco=hco,
            namespace=self._namespace,
            nodes=summary[1],
            infrastructure=self._view.config_object(INFRASTRUCTURES.kind),
            scheduler=self._view.config_object(SCHEDULERS.kind),
            environ=self._environ,
            lookups=self.lookups if asset is None or self._lookups_for is None
            else self._lookups_for(asset),
        )
