"""Tombstones: objects the autopilot deletes, each carrying the ownership label.

A tombstone file holds one or more documents shaped like the object to delete
(``apiVersion``, ``kind``, ``metadata.name``, ``metadata.namespace`` for namespaced
kinds, and the ownership label). An optional ``after`` block makes the deletion wait
for the object that replaces it::

    after:
      asset: logging-collect-application-logs     # our asset that replaces it
      object:                                     # optional: the very replacement object
        kind: ClusterRoleBinding
        name: collector-collect-application-logs
        namespace: ns                             # optional; absent = any namespace

The old object is then deleted only once the replacement is applied and compliant
(every object the asset renders, or the one ``object`` names). A tombstone whose
``after`` names an ``object`` also declares a rename: a ``disabled-resources`` rule
matching the old object excludes its replacement as well (see
:mod:`autopilot.engine.renames`). Unknown keys are errors: a misspelt ``after`` must
never turn a guarded deletion into an immediate one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autopilot import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.golden.yamlfile import Reporter, line_of, load_documents

_DOC_KEYS = frozenset({"apiVersion", "kind", "metadata", "after"})
_AFTER_KEYS = frozenset({"asset", "object"})
_OBJECT_KEYS = frozenset({"kind", "name", "namespace"})


@dataclass(frozen=True, slots=True)
class Replacement:
    """What must be applied and compliant before a tombstone may delete its object."""

    asset: str
    kind: str = ""
    name: str = ""
    namespace: str | None = None

    @property
    def names_object(self) -> bool:
        """Whether one replacement object is named (not just the asset)."""
        return bool(self.kind and self.name)

    def matches(self, *, kind: str, name: str, namespace: str) -> bool:
        """Whether an object of the asset is the replacement (any of them without ``object``)."""
        if not self.names_object:
            return True
        return (kind, name) == (self.kind, self.name) and (
            self.namespace is None or self.namespace == namespace
        )

    def describe(self) -> str:
        """Short human form for notes and the debug endpoint."""
        if not self.names_object:
            return f"asset {self.asset}"
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.kind} {self.name}{where} (asset {self.asset})"


@dataclass(frozen=True, slots=True)
class Tombstone:
    """An object the autopilot deletes (only when the live one carries the ownership label)."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    after: Replacement | None = None
    line: int = 0

    def __hash__(self) -> int:
        return hash((self.api_version, self.kind, self.namespace, self.name))


def load_tombstones(root: Path) -> tuple[Tombstone, ...]:
    """Every tombstone under ``root/tombstones`` (``**/*.yaml``), validated."""
    directory = root / "tombstones"
    if not directory.is_dir():
        return ()
    files = sorted({*directory.rglob("*.yaml"), *directory.rglob("*.yml")})
    result: list[Tombstone] = []
    seen: dict[tuple[str, str, str, str], str] = {}
    for path in files:
        rep = Reporter(path)
        for doc in load_documents(path):
            tomb = _parse(rep, doc, source=str(path.relative_to(root)))
            key = (tomb.api_version, tomb.kind, tomb.namespace, tomb.name)
            if key in seen:
                raise rep.error(
                    f"tombstone {tomb.kind} {tomb.name}: duplicate of {seen[key]}",
                    line=tomb.line or None,
                )
            seen[key] = str(path)
            result.append(tomb)
    return tuple(result)


def _parse(rep: Reporter, doc: Any, *, source: str) -> Tombstone:
    line = line_of(doc)
    if not isinstance(doc, Mapping):
        raise rep.error("a tombstone must be a mapping", line=line)
    meta = doc.get("metadata")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(meta, Mapping) or not all(
        isinstance(v, str) and v for v in (api_version, kind, meta.get("name"))
    ):
        raise rep.error("tombstone needs apiVersion, kind and metadata.name", line=line)
    name = str(meta["name"])
    unknown = sorted(str(k) for k in doc if k not in _DOC_KEYS)
    if unknown:
        raise rep.error(
            f"tombstone {kind} {name}: unknown key(s) {', '.join(unknown)} "
            "(allowed: apiVersion, kind, metadata, after)",
            line=line,
        )
    labels = meta.get("labels") or {}
    if not isinstance(labels, Mapping) or labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
        raise rep.error(
            f"tombstone {kind} {name}: missing label {MANAGED_BY_LABEL}: {MANAGED_BY_VALUE}",
            line=line,
        )
    after = doc.get("after")
    return Tombstone(
        api_version=str(api_version),
        kind=str(kind),
        name=name,
        namespace=str(meta.get("namespace") or ""),
        labels={str(k): str(v) for k, v in labels.items()},
        source=source,
        after=None if after is None else _parse_after(rep, after, f"tombstone {kind} {name}",
                                                      line_of(doc, "after") or line),
        line=line or 0,
    )


def _parse_after(rep: Reporter, raw: Any, what: str, line: int | None) -> Replacement:
    if not isinstance(raw, Mapping) or set(raw) - _AFTER_KEYS:
        raise rep.error(f"{what}: 'after' takes asset and, optionally, object", line=line)
    asset = raw.get("asset")
    if not isinstance(asset, str) or not asset:
        raise rep.error(f"{what}: 'after' needs the replacing asset's name", line=line)
    obj = raw.get("object")
    if obj is None:
        return Replacement(asset=asset)
    if not isinstance(obj, Mapping) or set(obj) - _OBJECT_KEYS or not all(
        isinstance(obj.get(k), str) and obj.get(k) for k in ("kind", "name")
    ):
        raise rep.error(
            f"{what}: 'after.object' takes kind, name and, optionally, namespace", line=line
        )
    namespace = obj.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        raise rep.error(f"{what}: 'after.object.namespace' must be a non-empty string",
                        line=line)
    return Replacement(
        asset=asset, kind=str(obj["kind"]), name=str(obj["name"]), namespace=namespace
    )


def check_tombstones(
    tombstones: tuple[Tombstone, ...], *, root: Path, assets: Collection[str]
) -> None:
    """Cross-checks that need the catalogue: ``after`` names a known asset, not itself."""
    for tomb in tombstones:
        if tomb.after is None:
            continue
        rep = Reporter(root / tomb.source)
        what = f"tombstone {tomb.kind} {tomb.name}"
        if tomb.after.asset not in assets:
            raise rep.error(f"{what}: 'after' names unknown asset {tomb.after.asset!r}",
                            line=tomb.line or None)
        if tomb.after.names_object and tomb.after.matches(
            kind=tomb.kind, name=tomb.name, namespace=tomb.namespace
        ):
            raise rep.error(f"{what}: 'after' names the tombstoned object itself",
                            line=tomb.line or None)
