"""Server-Side Apply and managedFields bookkeeping, as the real kube-apiserver does it.

Pure functions: kubesim hands in the live object and the request, gets the new
object (with ``metadata.managedFields``) back or an :class:`ApplyConflict`.

The algorithm follows structured-merge-diff: merge the applied configuration
onto the live object; prune what this manager applied last time and no longer
applies unless someone else owns it; compare old and new to find which other
managers' fields changed (conflicts, unless forced; forced ones move to the
applier) and which were removed.

Not modelled: kubectl's last-applied-configuration annotation syncing, clients
replacing managedFields themselves, and conversion between API versions
(managers of other versions are compared as if the versions were identical).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubesim.fieldpath import (
    MISSING,
    FieldSet,
    InvalidObject,
    Path,
    clone,
    compare,
    decode_fields_v1,
    encode_fields_v1,
    ensure_named_members,
    index_list,
    iterate_paths,
    path_string,
    remove_items,
    to_field_set,
    values_equal,
)
from kubesim.schema import DEDUCED, TypeSchema, zero_object

__all__ = [
    "ApplyConflict",
    "InvalidObject",
    "manager_from_user_agent",
    "record_update",
    "server_side_apply",
]

# Fields the server never records as owned (stripMetaManager in the apiserver).
_STRIPPED: frozenset[Path] = frozenset(
    [
        (("f", "apiVersion"),),
        (("f", "kind"),),
        (("f", "metadata"),),
        *[
            (("f", "metadata"), ("f", name))
            for name in (
                "name",
                "namespace",
                "creationTimestamp",
                "selfLink",
                "uid",
                "clusterName",
                "generation",
                "managedFields",
                "resourceVersion",
            )
        ],
    ]
)
# System metadata the write paths keep from the live object, whatever the request says.
_SYSTEM_META = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


class ApplyConflict(Exception):
    """An apply that would change fields other managers own (HTTP 409, reason Conflict)."""

    def __init__(
        self, conflicts: list[tuple[str, str]], message: str, causes: list[dict[str, str]]
    ):
        super().__init__(message)
        self.conflicts = conflicts
        self.message = message
        self.causes = causes


@dataclass
class _Manager:
    manager: str
    operation: str
    api_version: str
    time: str | None
    subresource: str
    fields: FieldSet = field(default_factory=set)

    @property
    def identity(self) -> tuple[str, str, str, str]:
        # Appliers are one entry whatever apiVersion they used; updaters are per version.
        version = "" if self.operation == "Apply" else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def describe(self) -> str:
        """How the server prints a manager in conflict messages."""
        text = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def sort_identity(self) -> str:
        entry: dict[str, str] = {"manager": self.manager, "operation": self.operation}
        if self.operation != "Apply":
            entry["apiVersion"] = self.api_version
        if self.subresource:
            entry["subresource"] = self.subresource
        return json.dumps(entry, separators=(",", ":"))


def _decode_managers(entries: Any) -> list[_Manager]:
    out: list[_Manager] = []
    if not isinstance(entries, list):
        return out
    for raw in entries:
        if not isinstance(raw, dict) or raw.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        try:
            fields = decode_fields_v1(raw.get("fieldsV1") or {})
        except (InvalidObject, ValueError):
            continue
        out.append(
            _Manager(
                manager=str(raw.get("manager", "")),
                operation=str(raw.get("operation", "Update")),
                api_version=str(raw.get("apiVersion", "")),
                time=raw.get("time"),
                subresource=str(raw.get("subresource", "")),
                fields=fields,
            )
        )
    return out


def _epoch(stamp: str | None) -> float:
    if not stamp:
        return 0.0
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _encode_managers(managers: list[_Manager]) -> list[dict[str, Any]]:
    ordered = sorted(
        (m for m in managers if m.fields),
        key=lambda m: (m.operation, int(_epoch(m.time)), m.manager, m.api_version, m.subresource),
    )
    out: list[dict[str, Any]] = []
    for m in ordered:
        entry: dict[str, Any] = {
            "manager": m.manager,
            "operation": m.operation,
            "apiVersion": m.api_version,
        }
        if m.time:
            entry["time"] = m.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = encode_fields_v1(m.fields)
        if m.subresource:
            entry["subresource"] = m.subresource
        out.append(entry)
    return out


# --- merge -----------------------------------------------------------------------------------


def _merge(lhs: Any, rhs: Any, schema: TypeSchema, path: Path) -> Any:
    """Merge applied ``rhs`` onto live ``lhs`` (``rhs`` wins on leaves).

    Neither input is mutated; the result shares unchanged parts with both.
    """
    if lhs is MISSING:
        return rhs
    if isinstance(lhs, dict) and isinstance(rhs, dict) and _granular_map(schema, rhs):
        out = dict(lhs)
        for key, value in rhs.items():
            out[key] = _merge(
                lhs.get(key, MISSING), value, schema.field(key)[0], (*path, ("f", key))
            )
        return out
    if isinstance(lhs, list) and isinstance(rhs, list) and _associative(schema):
        return _merge_list(lhs, rhs, schema, path)
    return rhs


def _granular_map(schema: TypeSchema, value: Any) -> bool:
    if schema.deduced:
        return isinstance(value, dict)
    return schema.is_map() and schema.map_type != "atomic" and not schema.int_or_string


def _associative(schema: TypeSchema) -> bool:
    return schema.is_list() and schema.list_type in ("set", "map") and not schema.deduced


def _merge_list(lhs: list[Any], rhs: list[Any], schema: TypeSchema, path: Path) -> list[Any]:
    """Merge list items by key, keeping live order for untouched items (Go's algorithm)."""
    left = index_list(schema, lhs, path, strict=False)
    right = index_list(schema, rhs, path, strict=True)
    left_items = dict(left)
    right_items = dict(right)
    shared = [pe for pe, _ in right if pe in left_items]
    shared_at = 0
    done: set[Any] = set()
    out: list[Any] = []
    li = ri = 0

    def merged(pe: Any) -> Any:
        return _merge(left_items.get(pe, MISSING), right_items[pe], schema.element(), (*path, pe))

    while li < len(left) or ri < len(right):
        next_shared = shared[shared_at] if shared_at < len(shared) else None
        if li < len(left) and ri < len(right):
            pe = left[li][0]
            if pe == right[ri][0]:
                out.append(merged(pe))
                done.add(pe)
                li, ri, shared_at = li + 1, ri + 1, shared_at + 1
                continue
            if pe in right_items and next_shared is not None and next_shared != pe:
                li += 1  # shared, but rhs order places it later
                continue
        if li < len(left):
            pe, item = left[li]
            if pe not in right_items:
                out.append(item)
                li += 1
                continue
            if pe in done:
                li += 1
                continue
        if ri < len(right):
            pe = right[ri][0]
            out.append(merged(pe))
            done.add(pe)
            ri += 1
            if next_shared == pe:
                shared_at += 1
    return out


# --- helpers ---------------------------------------------------------------------------------


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _split(obj: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """Body without status and system metadata; the system metadata; the status.

    Shallow: the body shares everything below ``metadata`` with ``obj``.
    """
    if not obj:
        return {}, {}, MISSING
    body = {k: v for k, v in obj.items() if k != "status"}
    status = obj.get("status", MISSING)
    meta = body.get("metadata")
    system: dict[str, Any] = {}
    if isinstance(meta, dict):
        kept = {}
        for key, value in meta.items():
            if key in _SYSTEM_META or key == "managedFields":
                system[key] = value
            else:
                kept[key] = value
        if kept:
            body["metadata"] = kept
        else:
            body.pop("metadata")
    return body, system, status


def _assemble(
    body: dict[str, Any], system: dict[str, Any], status: Any, managers: list[_Manager]
) -> dict[str, Any]:
    out: dict[str, Any] = clone(body)
    meta = out.setdefault("metadata", {})
    for key in _SYSTEM_META:
        if key in system:
            meta[key] = system[key]
    encoded = _encode_managers(managers)
    if encoded:
        meta["managedFields"] = encoded
    if status is not MISSING:
        out["status"] = clone(status)
    return out


def _strip(fields: FieldSet) -> FieldSet:
    return {p for p in fields if p not in _STRIPPED and p[:1] != (("f", "status"),)}


def _api_version(obj: dict[str, Any] | None, fallback: str) -> str:
    value = (obj or {}).get("apiVersion")
    return value if isinstance(value, str) and value else fallback


def _conflict_error(conflicts: dict[int, tuple[_Manager, FieldSet]]) -> ApplyConflict:
    rows: list[tuple[_Manager, Path]] = []
    for manager, paths in sorted(conflicts.values(), key=lambda mp: mp[0].sort_identity()):
        rows.extend((manager, p) for p in iterate_paths(paths))
    pairs = [(m.manager, path_string(p)) for m, p in rows]
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {m.describe()}",
            "field": path_string(p),
        }
        for m, p in rows
    ]
    if len(rows) == 1:
        manager, path = rows[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {manager.describe()}: {path_string(path)}"
        )
    else:
        lines: list[str] = []
        for manager, paths in sorted(conflicts.values(), key=lambda mp: mp[0].sort_identity()):
            lines.append(f"conflicts with {manager.describe()}:")
            lines.extend(f"- {path_string(p)}" for p in iterate_paths(paths))
        message = f"Apply failed with {len(rows)} conflicts: " + "\n".join(lines)
    return ApplyConflict(pairs, message, causes)


# --- apply -----------------------------------------------------------------------------------


def server_side_apply(
    *,
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    force: bool,
    schema: TypeSchema | None,
    now: str,
) -> dict[str, Any]:
    """Apply ``applied`` as ``manager``; return the new object with managedFields.

    Raises :class:`ApplyConflict` when, without ``force``, the apply would change
    fields other managers own, and :class:`InvalidObject` when the configuration
    does not fit the schema's list semantics. ``status`` is neither applied nor
    changed; uid/resourceVersion/generation/creationTimestamp stay as they are.
    An apply that changes nothing returns the live object unchanged.
    """
    schema = schema or DEDUCED
    live_body, system, status = _split(live)
    live_managers = _decode_managers(system.get("managedFields"))
    config, _, _ = _split(_drop_nulls(applied))

    config_set = to_field_set(config, schema, strict=True)
    merged = _merge(live_body, config, schema, ())
    applier = _Manager(manager, "Apply", _api_version(applied, ""), None, "")
    managers: list[_Manager] = []
    last: FieldSet | None = None
    for m in live_managers:
        if m.identity == applier.identity:
            applier.time = m.time
            last = m.fields
        else:
            managers.append(copy.copy(m))
    new_object = merged
    if last and not last <= config_set:  # nothing dropped means nothing to prune
        new_object = _prune(merged, schema, last, [config_set, *(m.fields for m in managers)])

    changes = compare(live_body, new_object, schema)
    changed = changes.added | changes.modified
    conflicts: dict[int, tuple[_Manager, FieldSet]] = {}
    for i, m in enumerate(managers):
        hit = m.fields & changed
        if hit:
            conflicts[i] = (m, hit)
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for m in managers:
        m.fields = m.fields - changed - changes.removed
    applier.fields = _strip(config_set)
    if not values_equal(live_body, new_object):
        applier.time = now
    result_managers = [m for m in [*managers, applier] if m.fields]
    if (
        live is not None
        and values_equal(live_body, new_object)
        and _encode_managers(result_managers) == system.get("managedFields")
    ):
        unchanged: dict[str, Any] = clone(live)
        return unchanged
    return _assemble(new_object, system, status, result_managers)


def _prune(
    merged: dict[str, Any], schema: TypeSchema, last: FieldSet, owned: list[FieldSet]
) -> dict[str, Any]:
    """Remove what the applier owned before and no longer applies, unless someone else owns it."""
    last_named = ensure_named_members(last, schema)
    first = remove_items(merged, last_named, schema)
    merged_set = ensure_named_members(to_field_set(merged, schema), schema)
    managed: FieldSet = set()
    for fields in owned:
        managed |= fields
    managed = ensure_named_members(managed, schema)
    first_set = ensure_named_members(to_field_set(first, schema), schema)
    pruned = remove_items(merged, merged_set - (first_set | managed), schema)
    pruned_set = ensure_named_members(to_field_set(pruned, schema), schema)
    result: dict[str, Any] = remove_items(merged, (merged_set - pruned_set) & last_named, schema)
    return result


# --- update / create / patch -------------------------------------------------------------------


def record_update(
    *,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    operation: str = "Update",
    schema: TypeSchema | None,
    now: str,
    subresource: str = "",
) -> dict[str, Any]:
    """Record a non-apply write (create/update/patch) by ``manager`` in managedFields.

    The manager gains every field it added or changed; other managers lose
    fields whose values changed or that were removed; managers left with nothing
    are dropped. A write that changed nothing leaves managedFields as they were.
    Returns ``new`` (copied) with ``metadata.managedFields`` set.
    """
    schema = schema or DEDUCED
    new_body, _, new_status = _split(new)
    old_system: dict[str, Any] = {}
    if old is None:
        old_body: dict[str, Any] = zero_object(schema)
        old_body.pop("status", None)
        old_status: Any = MISSING
    else:
        old_body, old_system, old_status = _split(old)
    if subresource == "status":
        # The status subresource writes status only; compare just that part.
        left: dict[str, Any] = {} if old_status is MISSING else {"status": old_status}
        right: dict[str, Any] = {} if new_status is MISSING else {"status": new_status}
    else:
        left, right = old_body, new_body
    changes = compare(left, right, schema)
    changed = changes.added | changes.modified
    lost = changed | changes.removed
    me = _Manager(manager, operation, _api_version(new, _api_version(old, "")), now, subresource)
    managers: list[_Manager] = []
    previous: _Manager | None = None
    for m in _decode_managers(old_system.get("managedFields")):
        m = copy.copy(m)
        m.fields = m.fields - lost
        if m.identity == me.identity:
            previous = m
        else:
            managers.append(m)
    gained = {p for p in changed if p not in _STRIPPED}
    if subresource != "status":
        gained = _strip(gained)
    if gained:
        me.fields = gained | (previous.fields if previous else set())
        managers.append(me)
    elif previous is not None:
        managers.append(previous)
    managers = _cap_updaters([m for m in managers if m.fields])
    result: dict[str, Any] = clone(new)
    meta = result.setdefault("metadata", {})
    encoded = _encode_managers(managers)
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)
    return result


MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"


def _cap_updaters(managers: list[_Manager]) -> list[_Manager]:
    """Fold the oldest Update entries into per-version "ancient-changes" buckets beyond ten."""
    updaters = [m for m in managers if m.operation != "Apply"]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return managers
    updaters.sort(key=lambda m: (int(_epoch(m.time)), m.sort_identity()))
    first_by_version: dict[str, _Manager] = {}
    buckets: dict[str, _Manager] = {}
    dropped: set[int] = set()
    count = len(updaters)
    for m in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        first = first_by_version.get(m.api_version)
        if first is None:
            first_by_version[m.api_version] = m
            continue
        bucket = buckets.get(m.api_version)
        if bucket is None:
            bucket = _Manager(ANCIENT_CHANGES, "Update", m.api_version, first.time, "")
            bucket.fields = set(first.fields)
            buckets[m.api_version] = bucket
            dropped.add(id(first))
        bucket.fields |= m.fields
        bucket.time = m.time  # the newer of the two
        dropped.add(id(m))
        count -= 1
    kept = [m for m in managers if id(m) not in dropped]
    return kept + list(buckets.values())


def manager_from_user_agent(ua: str) -> str:
    """Default field manager of a request without ``fieldManager``: the user agent up to '/'.

    e.g. ``kubectl/v1.32.0 (linux/amd64) kubernetes/abc`` -> ``kubectl``.
    """
    return ua.split("/", 1)[0]
