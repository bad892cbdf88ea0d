"""CustomResourceDefinitions: names, served versions and status conditions."""

from __future__ import annotations

import re
from typing import Any

from kubesim.types import ResourceType

_VERSION = re.compile(r"v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key putting the preferred version first (GA > beta > alpha > others)."""
    m = _VERSION.match(version)
    if not m:
        return (3, 0, 0, version)
    major, level, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[level]
    return (rank, -major, -minor, version)


def _has_cel(node: Any) -> bool:
    if isinstance(node, dict):
        return "x-kubernetes-validations" in node or any(_has_cel(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_cel(v) for v in node)
    return False


def crd_causes(crd: dict[str, Any]) -> list[dict[str, Any]]:
    """The essentials the real server validates in a CRD (names, group, versions)."""
    causes: list[dict[str, Any]] = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    name = (crd.get("metadata") or {}).get("name") or ""

    def add(field: str, message: str, reason: str = "FieldValueInvalid") -> None:
        causes.append({"reason": reason, "message": message, "field": field})

    if not group:
        add("spec.group", "Required value", "FieldValueRequired")
    if not names.get("plural"):
        add("spec.names.plural", "Required value", "FieldValueRequired")
    if not names.get("kind"):
        add("spec.names.kind", "Required value", "FieldValueRequired")
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        add("spec.scope", f'Unsupported value: "{spec.get("scope", "")}": supported values: '
            '"Cluster", "Namespaced"', "FieldValueNotSupported")
    if group and names.get("plural") and name != f"{names['plural']}.{group}":
        add("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
    versions = spec.get("versions") or []
    if not versions:
        add("spec.versions", "Invalid value: null: must have exactly one version marked as "
            "storage version")
    elif sum(1 for v in versions if v.get("storage")) != 1:
        add("spec.versions", "Invalid value: ...: must have exactly one version marked as "
            "storage version")
    return causes


def resource_type(crd: dict[str, Any]) -> ResourceType | None:
    """The served type a CRD defines (None when no version is served)."""
    spec = crd["spec"]
    names = spec["names"]
    served = [v for v in spec.get("versions") or [] if v.get("served", True)]
    if not served:
        return None
    ordered = sorted(served, key=lambda v: version_priority(str(v["name"])))
    rtype = ResourceType(
        group=spec["group"],
        versions=[str(v["name"]) for v in ordered],
        kind=names["kind"],
        plural=names["plural"],
        namespaced=spec.get("scope") == "Namespaced",
        singular=names.get("singular") or str(names["kind"]).lower(),
        short_names=list(names.get("shortNames") or []),
        categories=list(names.get("categories") or []),
        generation=True,
        crd_name=crd["metadata"]["name"],
    )
    for v in ordered:
        schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {}
        rtype.openapi[v["name"]] = schema
        rtype.printer_columns[v["name"]] = list(v.get("additionalPrinterColumns") or [])
        rtype.has_cel_rules[v["name"]] = _has_cel(schema)
        if (v.get("subresources") or {}).get("status") is not None:
            rtype.status_subresource = True
    return rtype


def established_status(crd: dict[str, Any], now: str) -> dict[str, Any]:
    """``status`` of a CRD whose names were accepted and which is served."""
    names = crd["spec"]["names"]
    accepted = {k: names[k] for k in ("plural", "singular", "shortNames", "kind", "listKind",
                                       "categories") if names.get(k)}
    storage = [v["name"] for v in crd["spec"].get("versions") or [] if v.get("storage")]
    old = crd.get("status") or {}
    stored = list(old.get("storedVersions") or [])
    for v in storage:
        if v not in stored:
            stored.append(v)
    return {
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now,
             "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now,
             "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
        "acceptedNames": accepted,
        "storedVersions": stored,
    }


def initial_status(crd: dict[str, Any]) -> dict[str, Any]:
    """``status`` right after create, before the names controller has looked at it."""
    storage = [v["name"] for v in crd["spec"].get("versions") or [] if v.get("storage")]
    return {"conditions": None, "acceptedNames": {"plural": "", "kind": ""},
            "storedVersions": storage}
