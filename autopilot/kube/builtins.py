"""The built-in resources of Kubernetes that every supported API server serves.

Each is generally available and has never been removed from its group version
(core ``v1``, ``apps/v1``, ``rbac.authorization.k8s.io/v1`` …), so the controller
maps these kinds without reading discovery. Custom resources are learned from
the CRDs' watch; discovery is read only for a kind neither names (another
built-in, or one served by an aggregated API).
"""

from __future__ import annotations

from autopilot.kube.resources import ResourceInfo
from autopilot.kube.wellknown import CRDS, NAMESPACES, NODES

# (group, version, kind, plural, namespaced); those read by name are in wellknown.
_TABLE: tuple[tuple[str, str, str, str, bool], ...] = (
    ("", "v1", "ConfigMap", "configmaps", True),
    ("", "v1", "Event", "events", True),
    ("", "v1", "Pod", "pods", True),
    ("", "v1", "Secret", "secrets", True),
    ("", "v1", "Service", "services", True),
    ("", "v1", "ServiceAccount", "serviceaccounts", True),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
     "mutatingwebhookconfigurations", False),
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
     "validatingwebhookconfigurations", False),
    ("apps", "v1", "DaemonSet", "daemonsets", True),
    ("apps", "v1", "Deployment", "deployments", True),
    ("coordination.k8s.io", "v1", "Lease", "leases", True),
    ("events.k8s.io", "v1", "Event", "events", True),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", False),
)

BUILTIN_RESOURCES: tuple[ResourceInfo, ...] = (
    NAMESPACES, NODES, CRDS, *(ResourceInfo(*row) for row in _TABLE))
