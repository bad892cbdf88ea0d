"""Tombstones: objects the autopilot deletes, each carrying the ownership label."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autopilot import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.golden.yamlfile import Reporter, line_of, load_documents


@dataclass(frozen=True, slots=True)
class Tombstone:
    """An object the autopilot deletes (only when the live one carries the ownership label)."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

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
            labels = meta.get("labels") or {}
            if not isinstance(labels, Mapping) or labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
                raise rep.error(
                    f"tombstone {kind} {name}: missing label "
                    f"{MANAGED_BY_LABEL}: {MANAGED_BY_VALUE}",
                    line=line,
                )
            namespace = str(meta.get("namespace") or "")
            key = (str(api_version), str(kind), namespace, name)
            if key in seen:
                raise rep.error(f"tombstone {kind} {name}: duplicate of {seen[key]}", line=line)
            seen[key] = str(path)
            result.append(
                Tombstone(
                    api_version=str(api_version),
                    kind=str(kind),
                    name=name,
                    namespace=namespace,
                    labels={str(k): str(v) for k, v in labels.items()},
                    source=str(path.relative_to(root)),
                )
            )
    return tuple(result)
