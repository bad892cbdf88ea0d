"""Identity of an API resource: the kind <-> REST path mapping used everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """One served resource (group/version/kind and its plural, scope)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, *, namespace: str | None = None, name: str | None = None) -> str:
        """REST path of the collection, or of one object when ``name`` is given."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        return base


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> ``("apps", "v1")``; ``v1`` -> ``("", "v1")``."""
    group, _, version = api_version.rpartition("/")
    return group, version


def not_served(*, kind: str, api_version: str, plural: str) -> str:
    """A kind the cluster does not serve, in kubectl's words, and the CRD that would serve it.

    The runbooks grep for this wording and the CRD name: the API server itself answers a
    request to a removed CRD's resource with a bare "404 page not found".
    """
    group = split_api_version(api_version)[0]
    text = f'no matches for kind "{kind}" in version "{api_version}"'
    return f"{text}: the CRD {plural}.{group} is not installed" if group else text


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Kind, name and namespace of one object ("" namespace for cluster-scoped)."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ObjectRef:
        """Reference to an object dict (``apiVersion``, ``kind``, ``metadata``)."""
        meta = obj.get("metadata") or {}
        return cls(
            api_version=str(obj.get("apiVersion", "")),
            kind=str(obj.get("kind", "")),
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace") or ""),
        )

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"
