"""Discovery documents (legacy and aggregated), /version and a minimal OpenAPI."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kubesim.types import Registry, ResourceType

Obj = dict[str, Any]
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
STATUS_VERBS = ["get", "patch", "update"]
# Custom resources list their verbs in this order on a real server.
CR_VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]

VERSION_INFO = {
    "major": "1", "minor": "36", "emulationMajor": "1", "emulationMinor": "36",
    "minCompatibilityMajor": "1", "minCompatibilityMinor": "35",
    "gitVersion": "v1.36.0-kubesim", "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z", "goVersion": "go1.27",
    "compiler": "gc", "platform": "linux/amd64",
}


def wants_aggregated(accept: str) -> bool:
    """Whether the Accept header asks for the aggregated (v2 or v2beta1) format first."""
    first = accept.split(",")[0]
    return "as=APIGroupDiscoveryList" in first


def _has_status(t: ResourceType) -> bool:
    return t.status_subresource


def resource_list(registry: Registry, group: str, version: str) -> Obj | None:
    """``APIResourceList`` of one group-version (None when not served)."""
    types = registry.in_group_version(group, version)
    if not types:
        return None
    resources: list[Obj] = []
    for t in types:
        entry: Obj = {"name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
                      "kind": t.kind, "verbs": list(CR_VERBS if t.crd_name else t.verbs)}
        if t.short_names:
            entry["shortNames"] = list(t.short_names)
        if t.categories:
            entry["categories"] = list(t.categories)
        resources.append(entry)
        if _has_status(t):
            resources.append({"name": f"{t.plural}/status", "singularName": "",
                              "namespaced": t.namespaced, "kind": t.kind,
                              "verbs": STATUS_VERBS})
    doc: Obj = {"kind": "APIResourceList"}
    if group:
        doc["apiVersion"] = "v1"
    doc["groupVersion"] = f"{group}/{version}" if group else version
    doc["resources"] = resources
    return doc


def core_versions(server_address: str) -> Obj:
    """``/api``."""
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def _group(name: str, versions: list[str]) -> Obj:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def group_list(registry: Registry) -> Obj:
    """``/apis``."""
    groups = [_group(g, vs) for g, vs in registry.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(registry: Registry, name: str) -> Obj | None:
    """``/apis/<group>``."""
    versions = registry.group_versions().get(name)
    if not versions or not name:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _aggregated_resource(t: ResourceType) -> Obj:
    entry: Obj = {
        "resource": t.plural,
        "responseKind": {"group": "", "version": "", "kind": t.kind},
        "scope": "Namespaced" if t.namespaced else "Cluster",
        "singularResource": t.singular,
        "verbs": list(CR_VERBS if t.crd_name else t.verbs),
    }
    if t.short_names:
        entry["shortNames"] = list(t.short_names)
    if t.categories:
        entry["categories"] = list(t.categories)
    if _has_status(t):
        entry["subresources"] = [{"subresource": "status",
                                  "responseKind": {"group": "", "version": "", "kind": t.kind},
                                  "verbs": STATUS_VERBS}]
    return entry


def aggregated(registry: Registry, *, core: bool) -> Obj:
    """``APIGroupDiscoveryList`` of the core group (``/api``) or of every group (``/apis``)."""
    items: list[Obj] = []
    for name, versions in registry.group_versions().items():
        if bool(name) == core:
            continue
        item_versions = []
        for v in versions:
            resources = [_aggregated_resource(t) for t in registry.in_group_version(name, v)]
            item_versions.append({"version": v, "resources": resources, "freshness": "Current"})
        items.append({"metadata": {"name": name} if name else {}, "versions": item_versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}


def without_groups(doc: Obj, hidden: frozenset[str]) -> Obj:
    """A ``/apis`` document (aggregated or legacy) leaving out the ``hidden`` groups (a
    group's own documents, read by a client that knows the group, still answer)."""
    if not hidden:
        return doc
    if doc.get("kind") == "APIGroupDiscoveryList":
        return {**doc, "items": [i for i in doc.get("items") or []
                                 if (i.get("metadata") or {}).get("name") not in hidden]}
    return {**doc, "groups": [g for g in doc.get("groups") or [] if g.get("name") not in hidden]}


# -- OpenAPI -------------------------------------------------------------------------------


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _param(name: str, kind: str = "string") -> Obj:
    return {"name": name, "in": "query", "schema": {"type": kind, "uniqueItems": True}}


def _operation(t: ResourceType, version: str, action: str, op_id: str) -> Obj:
    params = [_param("dryRun"), _param("fieldManager")]
    if action in ("post", "put", "patch"):
        params.append(_param("fieldValidation"))
    if action == "patch":
        params.append(_param("force", "boolean"))
    ref = {"$ref": f"#/components/schemas/{_schema_name(t, version)}"}
    return {
        "operationId": op_id,
        "parameters": params,
        "responses": {"200": {"description": "OK",
                              "content": {"application/json": {"schema": ref}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": t.group, "version": version,
                                            "kind": t.kind},
    }


def _schema_name(t: ResourceType, version: str) -> str:
    prefix = ".".join(reversed(t.group.split("."))) if t.group else "io.k8s.api.core"
    return f"{prefix}.{version}.{t.kind}"


def openapi_gv(registry: Registry, group: str, version: str) -> Obj | None:
    """A minimal OpenAPI v3 document for one group-version.

    Enough for kubectl to see that PATCH supports ``fieldValidation`` (so it leaves
    validation to the server) and to find each kind's schema.
    """
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths: Obj = {}
    schemas: Obj = {}
    base = "/" + _gv_path(group, version)
    for t in types:
        coll = f"{base}/namespaces/{{namespace}}/{t.plural}" if t.namespaced \
            else f"{base}/{t.plural}"
        op = f"{t.kind}{version}"
        paths[coll] = {"get": _operation(t, version, "list", f"list{op}"),
                       "post": _operation(t, version, "post", f"create{op}")}
        paths[f"{coll}/{{name}}"] = {
            "get": _operation(t, version, "get", f"read{op}"),
            "put": _operation(t, version, "put", f"replace{op}"),
            "patch": _operation(t, version, "patch", f"patch{op}"),
            "delete": _operation(t, version, "delete", f"delete{op}"),
        }
        schema: Obj = dict(t.openapi.get(version) or {}) if t.crd_name else {}
        if not schema:
            schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                      "properties": {"apiVersion": {"type": "string"},
                                     "kind": {"type": "string"},
                                     "metadata": {"type": "object"}}}
        schema["x-kubernetes-group-version-kind"] = [
            {"group": t.group, "version": version, "kind": t.kind}]
        schemas[_schema_name(t, version)] = schema
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.36.0"},
            "paths": paths, "components": {"schemas": schemas}}


def doc_hash(doc: Obj) -> str:
    """Content hash used in the index's ``serverRelativeURL``."""
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()


def openapi_index(registry: Registry) -> Obj:
    """``/openapi/v3``: one entry per served group-version."""
    paths: Obj = {}
    for name, versions in registry.group_versions().items():
        for v in versions:
            doc = openapi_gv(registry, name, v)
            if doc is None:
                continue
            rel = _gv_path(name, v)
            paths[rel] = {"serverRelativeURL": f"/openapi/v3/{rel}?hash={doc_hash(doc)}"}
    return {"paths": paths}


def openapi_v2() -> Obj:
    """``/openapi/v2``: an empty but well-formed Swagger document."""
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.36.0"},
            "paths": {}, "definitions": {}}
