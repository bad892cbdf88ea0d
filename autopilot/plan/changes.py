"""What applying one desired object would do to the live cluster, decided by the server.

Each object goes the controller's way (paused and unmanaged objects are left alone,
the live object's ``patch`` and ``ignore-fields`` shape what is sent, the ownership
label is added) and ends in a server-side apply *dry run* under the controller's field
manager: the API server's defaulting, schema and admission webhooks answer, and
nothing is stored. The answer compared with the live object, both without status and
server-managed metadata (:func:`autopilot.engine.drift.normalise_for_compare`), is the
change; its unified diff is what a user reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from autopilot.engine import drift, overrides
from autopilot.engine.customize import customize
from autopilot.engine.textdiff import unified_diff
from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.resources import ObjectRef, ResourceInfo

CREATE: Final = "create"
UPDATE: Final = "update"
DELETE: Final = "delete"
UNCHANGED: Final = "unchanged"
PAUSED: Final = "paused"
UNMANAGED: Final = "unmanaged"
EXCLUDED: Final = "excluded"
WAITING: Final = "waiting"
WOULD_FAIL: Final = "would fail"

# The actions that change the cluster (exit code 1).
CHANGES: Final = (CREATE, UPDATE, DELETE)


@dataclass
class Change:
    """The verdict for one object (or, with an empty kind, for a whole asset)."""

    action: str
    asset: str
    api_version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    note: str = ""
    diff: str = ""
    before: dict[str, Any] | None = None  # live, normalised (None: absent)
    after: dict[str, Any] | None = None  # after the apply, normalised (None: deleted)
    node_action: str = ""  # MachineConfig/KubeletConfig: what each node of its pools does
    pools: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, action: str, *, asset: str, obj: dict[str, Any], note: str = "") -> Change:
        """A verdict about ``obj`` (its identity copied in)."""
        ref = ObjectRef.of(obj)
        return cls(action=action, asset=asset, api_version=ref.api_version, kind=ref.kind,
                   name=ref.name, namespace=ref.namespace, note=note)

    @property
    def title(self) -> str:
        """``Kind namespace/name`` (or ``asset NAME`` for an asset-level verdict)."""
        if not self.kind:
            return f"asset {self.asset}"
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


async def object_change(
    client: KubeClient, *, asset: str, desired: dict[str, Any], res: ResourceInfo
) -> Change:
    """Read the live object, then dry-run the controller's apply of ``desired`` on it."""
    ns = str((desired.get("metadata") or {}).get("namespace") or "") or None
    try:
        live = await client.get(res, str(desired["metadata"]["name"]), namespace=ns)
    except ApiError as exc:
        return Change.of(WOULD_FAIL, asset=asset, obj=desired, note=f"read: {exc.message}")
    if live is not None and overrides.is_paused(live):
        return Change.of(PAUSED, asset=asset, obj=desired,
                         note=f"{overrides.RECONCILE_PAUSED} is set: left alone")
    if live is not None and overrides.is_unmanaged(live):
        return Change.of(UNMANAGED, asset=asset, obj=desired,
                         note=f"{overrides.MODE}=unmanaged: left alone")
    shaped = customize(desired, live, kind=res.kind)
    try:
        answer = await client.apply(res, shaped.desired, force=True, dry_run=True)
    except ApiError as exc:
        return _refused(exc, asset=asset, desired=desired)
    before = drift.normalise_for_compare(live) if live is not None else None
    after = drift.normalise_for_compare(answer)
    if before is not None and not drift.diff_paths(answer, live or {}):
        return Change.of(UNCHANGED, asset=asset, obj=desired)
    change = Change.of(CREATE if live is None else UPDATE, asset=asset, obj=desired,
                       note=shaped.patch_error and f"invalid patch annotation ignored: "
                                                   f"{shaped.patch_error}")
    change.before, change.after = before, after
    if live is not None:
        change.diff = unified_diff(before, after, title=change.title)
    return change


def _refused(exc: ApiError, *, asset: str, desired: dict[str, Any]) -> Change:
    """A dry run the server refused: the controller waits (namespace absent) or fails."""
    details = (exc.body or {}).get("details") or {}
    if exc.status == 404 and details.get("kind") == "namespaces":
        ns = (desired.get("metadata") or {}).get("namespace")
        return Change.of(WAITING, asset=asset, obj=desired,
                         note=f"namespace {ns} does not exist yet: applied once it does")
    return Change.of(WOULD_FAIL, asset=asset, obj=desired, note=" ".join(exc.message.split()))


def tombstone_change(
    live: dict[str, Any] | None, *, api_version: str, kind: str, name: str, namespace: str,
    managed_by: tuple[str, str], rendered: bool, after: str,
) -> Change | None:
    """The delete a tombstone would make, or None when it would delete nothing."""
    if live is None or rendered or overrides.is_unmanaged(live):
        return None
    labels = (live.get("metadata") or {}).get("labels") or {}
    if labels.get(managed_by[0]) != managed_by[1]:
        return None  # never ours: the sweep leaves it alone
    note = "obsolete object of an earlier golden state"
    if after:
        note += f" (once {after} is in its Golden State)"
    change = Change(action=DELETE, asset="tombstones", api_version=api_version, kind=kind,
                    name=name, namespace=namespace, note=note,
                    before=drift.normalise_for_compare(live))
    change.diff = unified_diff(change.before, None, title=change.title)
    return change
