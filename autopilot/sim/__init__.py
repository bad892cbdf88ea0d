"""kubesim: a local Kubernetes API server, faithful where the controller and kubectl care.

It serves discovery (legacy and aggregated), a minimal OpenAPI, built-in resources
and CRD-defined ones; server-side apply with managedFields, conflicts and force;
merge, JSON and strategic-lite patches; dryRun; selectors; pagination; watch with
bookmarks, timeouts and 410 after compaction; ``as=Table`` and metadata-only
lists; and test controls (:class:`~autopilot.sim.controls.Controls`).

Known differences from a real kube-apiserver: deleted namespaces vanish at once
with their contents (a real one keeps them Terminating until the namespace
controller, absent in tests, finishes); CRD deletion is immediate; core/v1 and
events.k8s.io/v1 events are stored separately; no admission plugins run other
than the simulated denials.
"""

from autopilot.sim.server import KubeSim

__all__ = ["KubeSim"]
