"""Explain one managed object: the data behind `autopilot explain`.

Read-only: it renders the golden state from the same inputs the controller
reads (the HCO, nodes, Infrastructure, Scheduler, environment and live lookups;
:mod:`autopilot.golden.live`), applies the object's customizations, and asks the
API server what a forced apply would change with a dry run.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any

from autopilot import FIELD_MANAGER
from autopilot.antithrash import flips
from autopilot.engine import drift, overrides
from autopilot.engine.customize import customize
from autopilot.golden import plan as gplan
from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import UnrenderableAsset, plural_of, rendered_objects
from autopilot.golden.live import read_hco, read_live_inputs
from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.discovery import RestMapper
from autopilot.kube.resources import ObjectRef, ResourceInfo, not_served, split_api_version
from autopilot.kube.wellknown import HCO_NAME


@dataclass
class Explanation:
    """Everything `autopilot explain` reports about one object."""

    kind: str
    name: str
    namespace: str
    asset: str = ""
    feature: str = ""
    plan_reason: str = ""
    exists: bool = False
    paused: bool = False
    unmanaged: bool = False
    customizations: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)
    dry_run_error: str = ""
    other_writers: list[str] = field(default_factory=list)
    controller: dict[str, Any] | None = None
    events: list[dict[str, str]] = field(default_factory=list)
    # What a forced apply would send (rendered, then customized): what the controller applies.
    desired: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def as_text(self) -> str:
        """The human report."""
        where = f"{self.namespace}/" if self.namespace else ""
        lines = [f"{self.kind} {where}{self.name}"]
        if not self.asset:
            if self.problems:  # e.g. the kind is not served at all
                lines.extend(f"  problem:         {problem}" for problem in self.problems)
                return "\n".join(lines) + "\n"
            lines.append("  not rendered by any active asset of the golden state")
            if self.plan_reason:
                lines.append(f"  ({self.plan_reason})")
            return "\n".join(lines) + "\n"
        lines.append(f"  asset:           {self.asset} (feature {self.feature or '-'})")
        lines.append(f"  exists:          {'yes' if self.exists else 'no (will be created)'}")
        state = "paused (edit war)" if self.paused else "unmanaged" if self.unmanaged else "managed"
        lines.append(f"  state:           {state}")
        lines.extend(f"  other writer:    {w}" for w in self.other_writers)
        war = (self.controller or {}).get("editWar")
        if isinstance(war, dict) and "flipsToPause" in war:
            lines.append(
                f"  edit war:        {war['flips']} of {war['flipsToPause']} owner flips in the "
                f"last {war['windowSeconds'] / 60:g} min, {war['throttles']} of "
                f"{war['throttlesToPause']} throttles"
            )
        if self.controller:
            comp = self.controller.get("compliance")
            lines.append(f"  compliance:      {'-' if comp is None else comp}")
            if self.controller.get("lastError"):
                lines.append(f"  last error:      {self.controller['lastError']}")
        else:
            lines.append("  compliance:      (controller debug endpoint not reachable)")
        for kind, value in sorted(self.customizations.items()):
            lines.append(f"  customization:   {kind} = {value}")
        for problem in self.problems:
            lines.append(f"  problem:         {problem}")
        if self.dry_run_error:
            lines.append(f"  apply would fail: {self.dry_run_error}")
        elif self.diff:
            lines.append("  drift (what a forced apply would change):")
            lines.extend(f"    {p}" for p in self.diff)
        elif self.exists:
            lines.append("  drift:           none (in sync)")
        if self.events:
            lines.append("  recent events:")
            for ev in self.events:
                lines.append(f"    {ev['time']}  {ev['type']:<8} {ev['reason']:<18} {ev['note']}")
        return "\n".join(lines) + "\n"


async def explain_object(
    *,
    client: KubeClient,
    golden: GoldenState,
    kind: str,
    name: str,
    namespace: str,
    hco_namespace: str,
    controller_view: dict[str, Any] | None,
) -> Explanation:
    """Build the explanation of one object (read-only; dry runs only)."""
    mapper = RestMapper(client)
    await mapper.refresh()
    res = find_kind(mapper, kind)
    if res is None:
        managed = _golden_kind(golden, kind)
        if managed is None:
            return Explanation(kind=kind, name=name, namespace=namespace,
                               plan_reason=f"kind {kind!r} is not served by this cluster")
        # A kind the golden state manages whose CRD is missing (or was removed).
        api_version, canonical, plural = managed
        return Explanation(kind=canonical, name=name, namespace=namespace,
                           controller=controller_view, problems=[not_served(
                               kind=canonical, api_version=api_version, plural=plural)])
    out = Explanation(kind=res.kind, name=name, namespace=namespace if res.namespaced else "",
                      controller=controller_view)
    hco = await read_hco(client, namespace=hco_namespace)
    if hco is None:
        out.plan_reason = f"no HyperConverged {HCO_NAME} in {hco_namespace}"
        return out
    desired, plan = await _find_desired(client, mapper, golden, hco, hco_namespace, out)
    if desired is None or plan is None:
        return out
    out.asset, out.feature, out.plan_reason = plan.asset.name, plan.asset.feature, plan.reason
    live = await client.get(res, name, namespace=out.namespace or None)
    out.exists = live is not None
    if live is not None:
        out.paused = overrides.is_paused(live)
        out.unmanaged = overrides.is_unmanaged(live)
    await _compare(out, client=client, res=res, desired=desired, live=live)
    out.events = await _events(
        client, mapper, kind=res.kind, name=name, namespace=out.namespace
    )
    return out


async def _compare(
    out: Explanation,
    *,
    client: KubeClient,
    res: ResourceInfo,
    desired: dict[str, Any],
    live: dict[str, Any] | None,
) -> None:
    """Customizations in effect, and what a forced apply would change and against whom."""
    custom = customize(desired, live, kind=res.kind)
    out.desired = custom.desired
    if custom.patch_text is not None:
        out.customizations["patch"] = custom.patch_text
    if custom.ignore_text is not None:
        out.customizations["ignore-fields"] = custom.ignore_text
    if custom.patch_error:
        out.problems.append(f"patch refused: {custom.patch_error}")
    if custom.invalid_pointers:
        out.problems.append("ignore-fields pointers skipped: " + ", ".join(custom.invalid_pointers))
    if live is not None:
        try:
            dry = await client.apply(res, custom.desired, force=True, dry_run=True)
            out.diff = drift.diff_paths(dry, live)
            # Who holds the fields we set: the same reading the controller pauses on.
            contest = flips.contest(live=live, dry_run=dry, manager=FIELD_MANAGER)
            out.other_writers = [w.describe() for w in contest.writers] if contest else []
        except ApiError as exc:
            out.dry_run_error = exc.message


def _golden_kind(golden: GoldenState, text: str) -> tuple[str, str, str] | None:
    """(apiVersion, kind, plural) of a kind the golden state renders, matched like
    :func:`find_kind` but whether or not the cluster serves it."""
    name, _, group = text.lower().partition(".")
    plurals = dict(golden.plurals)
    try:
        rendered = rendered_objects(golden)[0]
    except UnrenderableAsset:  # an asset that renders in no variant: nothing to match against
        return None
    for api_version, kind in sorted({(str(o["apiVersion"]), str(o["kind"]))
                                     for _, o in rendered}):
        plural = plural_of(kind, plurals)
        grp = split_api_version(api_version)[0]
        if name in (kind.lower(), plural) and (not group or grp.startswith(group)):
            return api_version, kind, plural
    return None


def find_kind(mapper: RestMapper, text: str) -> ResourceInfo | None:
    """Resolve what a user typed (kind, plural or singular, any case; ``kind.group`` too)."""
    name, _, group = text.lower().partition(".")
    candidates = [
        r for r in mapper.all()
        if name in (r.kind.lower(), r.plural.lower()) and (not group or r.group.startswith(group))
    ]
    # Prefer the core group and then the shortest group, like kubectl does for ambiguous names.
    candidates.sort(key=lambda r: (r.group != "", len(r.group), r.group))
    return candidates[0] if candidates else None


async def _find_desired(
    client: KubeClient,
    mapper: RestMapper,
    golden: GoldenState,
    hco: dict[str, Any],
    hco_namespace: str,
    out: Explanation,
) -> tuple[dict[str, Any] | None, gplan.AssetPlan | None]:
    # Rendering runs in a thread so template lookups can read through this loop.
    _, inputs = await read_live_inputs(client, hco=hco, namespace=hco_namespace, mapper=mapper)
    plans = await asyncio.to_thread(gplan.plan_inputs, golden, inputs)
    for plan in plans:
        for obj in plan.objects:
            ref = ObjectRef.of(obj)
            if ref.kind == out.kind and ref.name == out.name and ref.namespace == out.namespace:
                return obj, plan
    reasons = [f"{p.asset.name}: {p.reason}" for p in plans if not p.included]
    out.plan_reason = "no active asset renders it" + (
        f"; inactive assets: {', '.join(reasons[:8])}" if reasons else ""
    )
    return None, None


async def _events(
    client: KubeClient, mapper: RestMapper, *, kind: str, name: str, namespace: str
) -> list[dict[str, str]]:
    res: ResourceInfo | None = mapper.lookup("events.k8s.io/v1", "Event")
    if res is None:
        return []
    try:
        items, _ = await client.list(
            res, namespace=namespace or "default", field_selector=f"regarding.name={name}"
        )
    except ApiError:
        return []
    items = [e for e in items if (e.get("regarding") or {}).get("kind") in (kind, None)]
    items.sort(key=lambda e: str(e.get("eventTime") or e.get("deprecatedLastTimestamp") or ""))
    return [
        {
            "time": str(e.get("eventTime") or ""),
            "type": str(e.get("type", "")),
            "reason": str(e.get("reason", "")),
            "note": str(e.get("note", ""))[:200],
        }
        for e in items[-10:]
    ]
