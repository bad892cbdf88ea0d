"""The CRDs the benchmark platform installs: the published schemas, never schema-less stand-ins.

Every CRD of the shared reference set (``../shared/crds``, the schemas the
projects publish) is installed, related or not, because a real cluster serves
many API groups and discovery pays for each. Every kind the controller reads or
the golden state renders must be among them: the benchmarks refuse to run on
hand-written stand-ins.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from autopilot.demo import custom_kinds
from autopilot.golden.catalog import GoldenState
from autopilot.kube.wellknown import CONFIG_KINDS

PROJECT = Path(__file__).resolve().parents[1]
SHARED_CRDS = PROJECT.parent / "shared" / "crds"


CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# libyaml when present: the published schemas are megabytes of YAML, and the pure
# Python parsers take seconds for them (same documents either way, checked).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class MissingSchemas(RuntimeError):
    """The published CRD schemas are not at hand (the bench refuses stand-ins)."""


def load_crds(folders: Iterable[Path]) -> list[dict[str, Any]]:
    """CustomResourceDefinition documents of every YAML file under ``folders``."""
    out = []
    for folder in folders:
        for path in sorted(folder.rglob("*.yaml")):
            with path.open() as f:
                out += [d for d in yaml.load_all(f, Loader=_LOADER)
                        if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]
    return out


def _served(crds: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(apiVersion, kind) served by these CRDs."""
    out = set()
    for crd in crds:
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served", True):
                out.add((f"{spec['group']}/{version['name']}", spec["names"]["kind"]))
    return out


def platform_crds(golden: GoldenState) -> list[dict[str, Any]]:
    """Every published CRD; each kind the controller needs must be among them.

    Raises :class:`MissingSchemas` when the reference set is absent or a needed
    kind has no schema at all.
    """
    if not SHARED_CRDS.is_dir():
        raise MissingSchemas(f"{SHARED_CRDS} is absent: the benchmarks install the published "
                             "CRD schemas from there and refuse schema-less stand-ins")
    crds = load_crds([SHARED_CRDS])
    needed = set(custom_kinds(golden)) | {(r.api_version, r.kind) for r in CONFIG_KINDS}
    missing = needed - _served(crds)
    if missing:
        shown = ", ".join(f"{k} ({v})" for v, k in sorted(missing))
        raise MissingSchemas(f"no published CRD schema in {SHARED_CRDS} for {shown}")
    return crds


def install(cluster: Any, crds: list[dict[str, Any]], *, timeout: float = 120.0) -> None:
    """Apply ``crds`` to ``cluster``; wait until each is Established, in discovery and
    its custom resources' watch caches are filled (:func:`warm`)."""
    for crd in crds:
        name = crd["metadata"]["name"]
        status, body = cluster.api("PATCH", f"{CRD_API}/{name}", body=crd,
                                   content_type="application/apply-patch+yaml",
                                   query={"fieldManager": "autopilot-bench", "force": "true"})
        if status not in (200, 201):
            raise RuntimeError(f"installing CRD {name}: HTTP {status} {str(body)[:300]}")
    pending = {c["metadata"]["name"]: c for c in crds}
    deadline = time.monotonic() + timeout
    while pending:
        status, listing = cluster.api("GET", CRD_API)
        established = {
            item["metadata"]["name"] for item in (listing.get("items") or [])
            if any(c.get("type") == "Established" and c.get("status") == "True"
                   for c in (item.get("status") or {}).get("conditions") or [])
        } if status == 200 else set()
        for name in [n for n in pending if n in established]:
            if _in_discovery(cluster, pending[name]):
                del pending[name]
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"CRDs not served after {timeout:g}s: {sorted(pending)[:5]}")
        if pending:
            time.sleep(0.1)
    warm(cluster, crds, timeout=timeout)


# A watch that streams the current state first, as the controller's informers ask.
_STREAMING_WATCH = {"watch": "1", "sendInitialEvents": "true", "allowWatchBookmarks": "true",
                    "resourceVersionMatch": "NotOlderThan", "timeoutSeconds": "1"}


def warm(cluster: Any, crds: list[dict[str, Any]], *, timeout: float) -> None:
    """Wait until every served custom resource's watch cache is filled.

    A real API server builds the watch cache of a custom resource on the first
    request for it after it started, answering watches ``429 storage is
    (re)initializing`` until it is filled. On a cluster in use the operators owning
    those CRDs have long made that first request; a benchmark server started a
    moment ago has not, and the controller's first watches would pay for the
    cache's start instead of measuring the controller. kubesim has no watch
    cache: every watch is accepted at once.
    """
    pending = [f"/apis/{c['spec']['group']}/{v['name']}/{c['spec']['names']['plural']}"
               for c in crds for v in c["spec"]["versions"] if v.get("served", True)]
    deadline = time.monotonic() + timeout
    while pending:
        pending = [p for p in pending if cluster.status_of(p, _STREAMING_WATCH) == 429]
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"watch caches not filled after {timeout:g}s: {pending[:5]}")
        if pending:
            time.sleep(0.05)


def _in_discovery(cluster: Any, crd: dict[str, Any]) -> bool:
    spec = crd["spec"]
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        status, doc = cluster.api("GET", f"/apis/{spec['group']}/{version['name']}")
        if status != 200 or not any(r.get("name") == spec["names"]["plural"]
                                    for r in doc.get("resources") or []):
            return False
    return True
