"""Everything a render reads from the cluster, as one typed value.

The controller builds a :class:`RenderInputs` from its watch caches (and
``/debug/render`` from the same caches, through the same code), ``autopilot
explain`` and ``autopilot render --kubeconfig`` from one read of the API server
(:mod:`autopilot.golden.live`), and ``autopilot render --hco-file`` from a file
with no nodes and offline lookups. All of them turn it into a context the same
way (:meth:`RenderInputs.context`) and plan from it with
:func:`autopilot.golden.plan.plan_inputs`, so they cannot disagree about what
the cluster looks like to a template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autopilot.golden.context import NodesSummary, RenderContext, context_of
from autopilot.golden.lookups import Lookups


@dataclass(frozen=True)
class RenderInputs:
    """The HCO, what the nodes show, the OpenShift config objects, the environment, lookups.

    ``infrastructure`` and ``scheduler`` are the objects named ``cluster``, or None
    where those kinds do not exist (plain Kubernetes). ``environ`` supplies the
    ``RELATED_IMAGE_*`` images; ``lookups`` answers the templates' cluster questions.
    """

    hco: Mapping[str, Any]
    namespace: str
    nodes: NodesSummary
    infrastructure: Mapping[str, Any] | None
    scheduler: Mapping[str, Any] | None
    environ: Mapping[str, str]
    lookups: Lookups

    def context(self, *, version: str) -> RenderContext:
        """The render context templates and conditions see (golden-state version given)."""
        return context_of(
            hco=self.hco,
            nodes=self.nodes,
            infrastructure=self.infrastructure,
            scheduler=self.scheduler,
            environ=self.environ,
            version=version,
            namespace=self.namespace,
        )
