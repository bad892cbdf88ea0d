"""Drift detection: compare a server-side apply dry run with the live object.

The reconciler sends the desired object as a forced SSA dry run
(``dryRun=All``). The API server answers with the object as it *would* be
after the apply: our fields set to the desired values, and every field owned
only by other managers (defaulted values, fields controllers or users own)
left exactly as in live. So comparing that answer with live shows only what
our apply would change; fields owned by others never show up as drift.

What still differs for reasons that are not drift is dropped first:
``status`` and the server-managed metadata (``resourceVersion``,
``generation``, ``managedFields``, ``uid``, ``creationTimestamp``,
``selfLink``, ``deletionTimestamp``, ``deletionGracePeriodSeconds``). User
annotations, including ``kubectl.kubernetes.io/last-applied-configuration``,
are compared: SSA leaves them alone, so they are equal on both sides unless
we own them.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from autopilot.engine.pointers import escape_token
from autopilot.runtime.lru import LruMap

SERVER_MANAGED_METADATA: Final = (
    "resourceVersion",
    "generation",
    "managedFields",
    "uid",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
# Empty and absent mean the same for these; some servers return one, some the other.
EMPTY_IS_ABSENT: Final = ("labels", "annotations", "finalizers", "ownerReferences")


def compare_view(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` without status and server-managed metadata, sharing what it keeps with
    ``obj``: for reading only (a diff, a hash). A watched object's managedFields alone
    are often larger than the rest of it; copying them to drop them cost a correction
    more than its diff."""
    view = {k: v for k, v in obj.items() if k not in ("status", "metadata")}
    meta = obj.get("metadata")
    if isinstance(meta, Mapping):
        view["metadata"] = {k: v for k, v in meta.items()
                            if k not in SERVER_MANAGED_METADATA
                            and not (k in EMPTY_IS_ABSENT and not v)}
    elif "metadata" in obj:
        view["metadata"] = meta
    return view


def normalise_for_compare(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` without status and server-managed metadata."""
    return copy.deepcopy(compare_view(obj))


def diff_paths(dry_run_result: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """JSON pointers where the dry-run result differs from live; ``[]`` = in sync.

    A member present on one side only is reported at its own path; arrays of
    different lengths are reported at the array's path.
    """
    out: list[str] = []
    _diff(compare_view(dry_run_result), compare_view(live), "", out)
    return out


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    # Iterative would be safer for absurd depths, but objects come from the API
    # server, which caps nesting well below Python's recursion limit.
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys(), key=str):
            child = f"{path}/{escape_token(str(key))}"
            if key not in a or key not in b:
                out.append(child)
            else:
                _diff(a[key], b[key], child, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(path or "/")
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}/{i}", out)
    elif not _scalar_equal(a, b):
        out.append(path or "/")


def _scalar_equal(a: Any, b: Any) -> bool:
    # Python says True == 1; JSON does not.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def desired_fingerprint(desired: dict[str, Any]) -> str:
    """A stable hash of the desired object (key order does not matter)."""
    try:
        text = json.dumps(desired, sort_keys=True, separators=(",", ":"), default=str)
    except TypeError:
        # Mixed key types (a template rendered ``{1: a, b: c}``) cannot be sorted.
        text = json.dumps(_str_keys(desired), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _str_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _str_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_str_keys(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class _Verdict:
    fingerprint: str
    resource_version: str
    in_sync: bool


class VerdictCache:
    """Remembers "in sync" verdicts per object while neither side changed.

    A verdict is valid only for the exact (desired fingerprint, live
    resourceVersion) it was made for; an empty resourceVersion is never
    cached (nothing would tell us the live object changed). Least recently
    used entries are dropped beyond ``max_entries``.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: LruMap[Hashable, _Verdict] = LruMap(max_entries)

    def get(self, ref: Hashable, fingerprint: str, resource_version: str) -> bool | None:
        """The cached verdict for exactly this state, or None when unknown."""
        entry = self._entries.peek(ref)  # only a verdict still valid counts as a use
        if entry is None or not resource_version:
            return None
        if entry.fingerprint != fingerprint or entry.resource_version != resource_version:
            return None
        self._entries.get(ref)
        return entry.in_sync

    def put(
        self, ref: Hashable, fingerprint: str, resource_version: str, in_sync: bool = True
    ) -> None:
        """Record a verdict (replaces any older one for ``ref``)."""
        if not resource_version:
            self._entries.drop(ref)
            return
        self._entries.put(ref, _Verdict(fingerprint, resource_version, in_sync))

    def invalidate(self, ref: Hashable) -> None:
        """Forget the verdict for ``ref`` (force-reconcile, pause removed, deleted)."""
        self._entries.drop(ref)

    def clear(self) -> None:
        """Forget every verdict."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
