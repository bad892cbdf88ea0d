"""Served resource types: the built-in ones and those CRDs add at run time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class ResourceType:
    """One served resource (a group, its served versions, names and behaviour)."""

    group: str
    versions: list[str]
    kind: str
    plural: str
    namespaced: bool
    singular: str = ""
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    # metadata.generation is maintained (apps, CRDs, custom resources...).
    generation: bool = False
    # Writes to the main resource keep the stored status (status subresource enabled).
    status_subresource: bool = False
    # Custom resources: the CRD's name and per-version openAPIV3Schema / printer columns.
    crd_name: str = ""
    openapi: dict[str, dict[str, Any]] = field(default_factory=dict)
    printer_columns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    has_cel_rules: dict[str, bool] = field(default_factory=dict)
    verbs: list[str] = field(default_factory=lambda: list(VERBS))

    def __post_init__(self) -> None:
        if not self.singular:
            self.singular = self.kind.lower()

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: all versions of a resource share one store."""
        return (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        """``ConfigMapList``."""
        return f"{self.kind}List"

    @property
    def storage_version(self) -> str:
        """The first served version (the storage version for custom resources)."""
        return self.versions[0]

    def api_version(self, version: str) -> str:
        """``v1`` or ``group/version``."""
        return f"{self.group}/{version}" if self.group else version


def _t(group: str, version: str, kind: str, plural: str, namespaced: bool,
       **kw: Any) -> ResourceType:
    return ResourceType(group=group, versions=[version], kind=kind, plural=plural,
                        namespaced=namespaced, **kw)


def builtin_types() -> list[ResourceType]:
    """The built-in resources kubesim serves (a fresh list each call: types are mutable)."""
    return [
        _t("", "v1", "Namespace", "namespaces", False, short_names=["ns"],
           status_subresource=True,
           verbs=["create", "delete", "get", "list", "patch", "update", "watch"]),
        _t("", "v1", "ConfigMap", "configmaps", True, short_names=["cm"]),
        _t("", "v1", "Secret", "secrets", True),
        _t("", "v1", "Service", "services", True, short_names=["svc"], categories=["all"],
           status_subresource=True),
        _t("", "v1", "ServiceAccount", "serviceaccounts", True, short_names=["sa"]),
        _t("", "v1", "Node", "nodes", False, short_names=["no"], status_subresource=True),
        _t("", "v1", "Pod", "pods", True, short_names=["po"], categories=["all"],
           status_subresource=True),
        _t("", "v1", "Event", "events", True, short_names=["ev"]),
        _t("apps", "v1", "DaemonSet", "daemonsets", True, short_names=["ds"],
           categories=["all"], generation=True, status_subresource=True),
        _t("apps", "v1", "Deployment", "deployments", True, short_names=["deploy"],
           categories=["all"], generation=True, status_subresource=True),
        _t("coordination.k8s.io", "v1", "Lease", "leases", True),
        _t("events.k8s.io", "v1", "Event", "events", True, short_names=["ev"]),
        _t("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
        _t("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
        _t("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
        _t("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
        _t("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
           "validatingwebhookconfigurations", False, categories=["api-extensions"],
           generation=True),
        _t("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
           "mutatingwebhookconfigurations", False, categories=["api-extensions"],
           generation=True),
        _t("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
           False, short_names=["crd", "crds"], categories=["api-extensions"], generation=True,
           status_subresource=True),
        _t("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, short_names=["sc"]),
    ]


class Registry:
    """Lookup of served types by path segments and by kind (owned by the server loop)."""

    def __init__(self) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        self._types: dict[tuple[str, str], ResourceType] = {}
        for t in builtin_types():
            self.add(t)

    def add(self, rtype: ResourceType) -> None:
        """Serve ``rtype`` (replacing an earlier definition with the same key)."""
        self.remove(rtype.key)
        self._types[rtype.key] = rtype
        for v in rtype.versions:
            self._by_path[(rtype.group, v, rtype.plural)] = rtype

    def remove(self, key: tuple[str, str]) -> ResourceType | None:
        """Stop serving a resource; returns the type that was served."""
        old = self._types.pop(key, None)
        if old is not None:
            for v in old.versions:
                self._by_path.pop((old.group, v, old.plural), None)
        return old

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at ``/apis/<group>/<version>/<plural>``."""
        return self._by_path.get((group, version, plural))

    def get(self, key: tuple[str, str]) -> ResourceType | None:
        """The type stored under ``(group, plural)``."""
        return self._types.get(key)

    def all(self) -> list[ResourceType]:
        """Every served type, built-ins first."""
        return list(self._types.values())

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions (preferred first), core group as ``""``."""
        out: dict[str, list[str]] = {}
        for t in self._types.values():
            versions = out.setdefault(t.group, [])
            for v in t.versions:
                if v not in versions:
                    versions.append(v)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        """Types served in one group-version."""
        return [t for t in self._types.values() if t.group == group and version in t.versions]
