"""Cluster lookups templates may call, with documented offline defaults.

Templates call these synchronously. The controller implements :class:`ObjectLookups`
over its caches; ``autopilot render --hco-file`` uses :class:`OfflineLookups`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

CRD_API_VERSION = "apiextensions.k8s.io/v1"
PROMETHEUS_RULE = ("monitoring.coreos.com/v1", "PrometheusRule")
STORAGE_PROFILE = ("cdi.kubevirt.io/v1beta1", "StorageProfile")
STORAGE_CLASS = ("storage.k8s.io/v1", "StorageClass")
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


class Lookups(Protocol):
    """The cluster questions a template can ask (golden-state.md §1)."""

    def crd_enum(self, crd_name: str, field_path: str) -> list[str]:
        """Enum values of ``field_path`` (items of an array field) in the CRD's storage version."""
        ...

    def object_exists(self, api_version: str, kind: str, name: str, namespace: str = "") -> bool:
        """Whether the object exists."""
        ...

    def configmap_value(self, namespace: str, name: str, key: str, default: str = "") -> str:
        """``data[key]`` of a ConfigMap, or ``default``."""
        ...

    def recording_rule_exists(self, record_name: str) -> bool:
        """Whether any PrometheusRule has a rule with ``record: <record_name>``."""
        ...

    def rwx_storage_class(self) -> str:
        """First StorageProfile (by name) offering RWX Filesystem claims, or ``""``."""
        ...

    def default_storage_class(self) -> str:
        """The cluster's default StorageClass (the newest when several), or ``""``."""
        ...

    def get_object(
        self, api_version: str, kind: str, name: str, namespace: str = ""
    ) -> dict[str, Any] | None:
        """The object, or ``None``."""
        ...


class OfflineLookups:
    """Offline defaults: nothing exists, enums are empty, ConfigMap keys give the default."""

    def crd_enum(self, crd_name: str, field_path: str) -> list[str]:
        """Offline: ``[]``."""
        return []

    def object_exists(self, api_version: str, kind: str, name: str, namespace: str = "") -> bool:
        """Offline: ``False``."""
        return False

    def configmap_value(self, namespace: str, name: str, key: str, default: str = "") -> str:
        """Offline: ``default``."""
        return default

    def recording_rule_exists(self, record_name: str) -> bool:
        """Offline: ``False``."""
        return False

    def rwx_storage_class(self) -> str:
        """Offline: ``""``."""
        return ""

    def default_storage_class(self) -> str:
        """Offline: ``""``."""
        return ""

    def get_object(
        self, api_version: str, kind: str, name: str, namespace: str = ""
    ) -> dict[str, Any] | None:
        """Offline: ``None``."""
        return None


def crd_field_enum(crd: Mapping[str, Any], field_path: str) -> list[str]:
    """Enum strings of a (dotted) field in a CRD's storage version schema.

    For an array field the enum of its items is returned, e.g. ``spec.profiles``.
    """
    versions = (crd.get("spec") or {}).get("versions") or []
    storage = next((v for v in versions if v.get("storage")), versions[0] if versions else None)
    if not storage:
        return []
    node: Any = ((storage.get("schema") or {}).get("openAPIV3Schema")) or {}
    for part in field_path.split("."):
        while isinstance(node, Mapping) and node.get("type") == "array":
            node = node.get("items") or {}
        if not isinstance(node, Mapping):
            return []
        node = (node.get("properties") or {}).get(part)
        if node is None:
            return []
    while isinstance(node, Mapping) and node.get("type") == "array":
        node = node.get("items") or {}
    values = node.get("enum") if isinstance(node, Mapping) else None
    return [str(v) for v in values or []]


def _has_rwx_filesystem(profile: Mapping[str, Any]) -> bool:
    for claim in (profile.get("status") or {}).get("claimPropertySets") or []:
        modes = claim.get("accessModes") or []
        if "ReadWriteMany" in modes and (claim.get("volumeMode") or "Filesystem") == "Filesystem":
            return True
    return False


class ObjectLookups(ABC):
    """Every lookup derived from two primitives: get one object, list a kind."""

    @abstractmethod
    def get_object(
        self, api_version: str, kind: str, name: str, namespace: str = ""
    ) -> dict[str, Any] | None:
        """The object, or ``None`` (also when the kind is not served)."""

    @abstractmethod
    def list_objects(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        """Every object of the kind in all namespaces (``[]`` when not served)."""

    def crd_enum(self, crd_name: str, field_path: str) -> list[str]:
        """Enum values from the installed CRD (``[]`` when absent)."""
        crd = self.get_object(CRD_API_VERSION, "CustomResourceDefinition", crd_name)
        return crd_field_enum(crd, field_path) if crd else []

    def object_exists(self, api_version: str, kind: str, name: str, namespace: str = "") -> bool:
        """Whether the object exists."""
        return self.get_object(api_version, kind, name, namespace) is not None

    def configmap_value(self, namespace: str, name: str, key: str, default: str = "") -> str:
        """``data[key]`` of the ConfigMap, or ``default``."""
        cm = self.get_object("v1", "ConfigMap", name, namespace)
        value = ((cm or {}).get("data") or {}).get(key)
        return str(value) if value is not None else default

    def recording_rule_exists(self, record_name: str) -> bool:
        """Whether any PrometheusRule records ``record_name``."""
        for rule_obj in self.list_objects(*PROMETHEUS_RULE):
            for group in (rule_obj.get("spec") or {}).get("groups") or []:
                for rule in group.get("rules") or []:
                    if rule.get("record") == record_name:
                        return True
        return False

    def rwx_storage_class(self) -> str:
        """Name of the first StorageProfile (sorted by name) with an RWX Filesystem claim."""
        profiles = sorted(
            self.list_objects(*STORAGE_PROFILE),
            key=lambda p: str((p.get("metadata") or {}).get("name", "")),
        )
        for profile in profiles:
            if _has_rwx_filesystem(profile):
                return str((profile.get("metadata") or {}).get("name", ""))
        return ""

    def default_storage_class(self) -> str:
        """The StorageClass marked default; like the API server, the newest of several."""
        defaults = []
        for sc in self.list_objects(*STORAGE_CLASS):
            meta = sc.get("metadata") or {}
            annotations = meta.get("annotations") or {}
            if any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS):
                defaults.append((str(meta.get("creationTimestamp") or ""), str(meta["name"])))
        return max(defaults)[1] if defaults else ""


class SnapshotLookups(ObjectLookups):
    """Lookups over a fixed set of objects (tests, and callers holding a cache snapshot)."""

    def __init__(self, objects: Iterable[Mapping[str, Any]] = ()) -> None:
        self._objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for obj in objects:
            meta = obj.get("metadata") or {}
            key = (
                str(obj.get("apiVersion", "")),
                str(obj.get("kind", "")),
                str(meta.get("namespace") or ""),
                str(meta.get("name", "")),
            )
            self._objects[key] = dict(obj)

    def get_object(
        self, api_version: str, kind: str, name: str, namespace: str = ""
    ) -> dict[str, Any] | None:
        """The stored object, or ``None``."""
        return self._objects.get((api_version, kind, namespace or "", name))

    def list_objects(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        """Stored objects of the kind."""
        return [o for (av, k, _, _), o in self._objects.items() if av == api_version and k == kind]
