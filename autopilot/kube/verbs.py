"""The REST verbs on objects (get, list, apply, create, replace, patch, delete).

A mixin over one ``request`` method, so the transport (:mod:`autopilot.kube.client`)
and the object conveniences stay small modules of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autopilot import FIELD_MANAGER
from autopilot.kube.errors import ApiError
from autopilot.kube.resources import ResourceInfo

Query = Mapping[str, str | int | bool | None]

# Content negotiation for the metadata of objects rather than the objects themselves.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"


class ResourceVerbs:
    """Object-level calls, each one :meth:`request` (``list`` follows ``continue``)."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | None = None,
        accept: str | None = None,
    ) -> dict[str, Any]:
        """One request; implemented by the client."""
        raise NotImplementedError

    async def get(
        self, res: ResourceInfo, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return await self.request("GET", res.path(namespace=namespace, name=name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def list(
        self,
        res: ResourceInfo,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
        timeout: float | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        accept: str | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """All objects (following ``continue``) and the list's resourceVersion.

        Items get ``apiVersion`` and ``kind`` filled in (list items lack them).
        ``transform`` is applied to each item as its page arrives, so a caller that
        keeps only part of each object never holds every full page at once.
        ``accept``: another representation (:data:`METADATA_LIST`).
        """
        items: list[dict[str, Any]] = []
        cont: str | None = None
        rv = ""
        while True:
            query: dict[str, str | int | None] = {
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "limit": limit,
                "continue": cont,
            }
            page = await self.request("GET", res.path(namespace=namespace), query=query,
                                      timeout=timeout, accept=accept)
            for item in page.get("items") or []:
                if isinstance(item, dict):
                    item.setdefault("apiVersion", res.api_version)
                    item.setdefault("kind", res.kind)
                    items.append(item if transform is None else transform(item))
            meta = page.get("metadata") or {}
            rv = str(meta.get("resourceVersion") or rv)
            cont = meta.get("continue") or None
            if not cont:
                return items, rv

    async def apply(
        self,
        res: ResourceInfo,
        obj: dict[str, Any],
        *,
        force: bool = True,
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        """Server-side apply ``obj`` (sent as JSON, which is valid YAML)."""
        meta = obj.get("metadata") or {}
        path = res.path(namespace=meta.get("namespace") or None, name=str(meta.get("name", "")))
        query: dict[str, str | None] = {
            "fieldManager": field_manager,
            "force": "true" if force else None,
            "dryRun": "All" if dry_run else None,
        }
        return await self.request(
            "PATCH", path, query=query, body=obj, content_type="application/apply-patch+yaml"
        )

    async def create_object(
        self,
        res: ResourceInfo,
        obj: dict[str, Any],
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        """POST a new object."""
        ns = namespace or (obj.get("metadata") or {}).get("namespace") or None
        query = {"fieldManager": field_manager, "dryRun": "All" if dry_run else None}
        return await self.request("POST", res.path(namespace=ns), query=query, body=obj)

    async def replace(
        self, res: ResourceInfo, obj: dict[str, Any], *, field_manager: str = FIELD_MANAGER
    ) -> dict[str, Any]:
        """PUT the object (optimistic concurrency through its resourceVersion)."""
        meta = obj.get("metadata") or {}
        path = res.path(namespace=meta.get("namespace") or None, name=str(meta.get("name", "")))
        return await self.request("PUT", path, query={"fieldManager": field_manager}, body=obj)

    async def patch(
        self,
        res: ResourceInfo,
        name: str,
        body: Any,
        *,
        namespace: str | None = None,
        patch_type: str = "merge",
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        """A merge (``merge``) or JSON (``json``) patch."""
        content_types = {
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
            "strategic": "application/strategic-merge-patch+json",
        }
        if patch_type not in content_types:
            raise ValueError(f"unknown patch type {patch_type!r}")
        query = {"fieldManager": field_manager, "dryRun": "All" if dry_run else None}
        return await self.request(
            "PATCH",
            res.path(namespace=namespace, name=name),
            query=query,
            body=body,
            content_type=content_types[patch_type],
        )

    async def delete(
        self, res: ResourceInfo, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """Delete the object; None when it was already gone."""
        try:
            return await self.request("DELETE", res.path(namespace=namespace, name=name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
