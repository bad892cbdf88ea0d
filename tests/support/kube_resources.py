"""Built-in resources the client-level tests read and write."""

from __future__ import annotations

from autopilot.kube.resources import ResourceInfo

NAMESPACES = ResourceInfo("", "v1", "Namespace", "namespaces", False)
CONFIGMAPS = ResourceInfo("", "v1", "ConfigMap", "configmaps", True)
