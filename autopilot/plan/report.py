"""``autopilot plan``'s output: a readable text report, or JSON for scripts.

The text reads like ``terraform plan``: one line per object that would change or
that the controller would not touch for a reason the administrator set (paused,
unmanaged, excluded), the server's refusals, the unified diff under each update,
the pools that roll, and a summary line. Unchanged objects are counted, not listed.
"""

from __future__ import annotations

import json
from typing import Any, Final

from autopilot.plan import changes as ch
from autopilot.plan.survey import Plan

_SIGNS: Final = {
    ch.CREATE: "+", ch.UPDATE: "~", ch.DELETE: "-", ch.WOULD_FAIL: "!", ch.WAITING: "?",
    ch.PAUSED: "#", ch.UNMANAGED: "#", ch.EXCLUDED: "#", ch.UNCHANGED: "=",
}
_ORDER: Final = (ch.CREATE, ch.UPDATE, ch.DELETE, ch.WOULD_FAIL, ch.WAITING, ch.PAUSED,
                 ch.UNMANAGED, ch.EXCLUDED)


def format_text(plan: Plan, *, subject: str) -> str:
    """The report for a person."""
    lines = [f"Plan for {subject}", ""]
    if not plan.enabled:
        lines += ["The autopilot is not enabled on this HCO: it would apply nothing.",
                  "Run with --enable to see what enabling it would do.", ""]
    for action in _ORDER:
        for change in (c for c in plan.changes if c.action == action):
            lines += _change_lines(change)
    if any(c.action != ch.UNCHANGED for c in plan.changes):
        lines.append("")
    lines += _blast_lines(plan)
    lines.append(summary(plan))
    return "\n".join(lines) + "\n"


def _change_lines(change: ch.Change) -> list[str]:
    head = f"  {_SIGNS[change.action]} {change.action:<10} {change.title}  [{change.asset}]"
    if change.node_action:
        where = ", ".join(change.pools) or "no pool"
        head += f"  nodes: {change.node_action} (pools: {where})"
    out = [head]
    if change.note:
        out.append(f"      {change.note}")
    if change.diff and change.action == ch.UPDATE:
        out += ["      " + line for line in change.diff.rstrip("\n").splitlines()]
    return out


def _blast_lines(plan: Plan) -> list[str]:
    blast = plan.blast
    if blast.note:
        return [f"Nodes: {blast.note}", ""]
    if not blast.pools:
        return []
    out = ["Pools that roll (the Machine Config Operator drains and updates their nodes "
           "one after the other):"]
    for pool in blast.pools:
        out.append(f"  {pool.name}: {len(pool.nodes)} node(s) {pool.action}"
                   f" ({', '.join(pool.nodes) or 'no nodes'})")
        out.append(f"      because of {', '.join(pool.because)}")
    return [*out, ""]


def summary(plan: Plan) -> str:
    """The one-line summary: objects to create/update/delete, pools that roll, reboots."""
    text = (f"Plan: {plan.count(ch.CREATE)} to create, {plan.count(ch.UPDATE)} to update, "
            f"{plan.count(ch.DELETE)} to delete, {plan.count(ch.UNCHANGED)} unchanged")
    failing = sum(1 for c in plan.changes if c.action == ch.WOULD_FAIL)
    if failing:
        text += f", {failing} would fail"
    rolls = plan.blast.pools
    names = f" ({', '.join(p.name for p in rolls)})" if rolls else ""
    return (f"{text}. Pools that roll: {len(rolls)}{names}. "
            f"Nodes that reboot: {len(plan.blast.rebooting_nodes)}.")


def format_json(plan: Plan, *, subject: str) -> str:
    """The report for a script: every verdict (unchanged ones too), pools and summary."""
    doc: dict[str, Any] = {
        "subject": subject,
        "enabled": plan.enabled,
        "changes": [_change_doc(c) for c in plan.changes],
        "pools": [{"name": p.name, "action": p.action, "nodes": list(p.nodes),
                   "because": list(p.because)} for p in plan.blast.pools],
        "nodesNote": plan.blast.note,
        "warnings": plan.warnings,
        "summary": {
            "create": plan.count(ch.CREATE), "update": plan.count(ch.UPDATE),
            "delete": plan.count(ch.DELETE), "unchanged": plan.count(ch.UNCHANGED),
            "wouldFail": sum(1 for c in plan.changes if c.action == ch.WOULD_FAIL),
            "poolsRolling": [p.name for p in plan.blast.pools],
            "nodesRebooting": plan.blast.rebooting_nodes,
        },
    }
    return json.dumps(doc, indent=2) + "\n"


def _change_doc(change: ch.Change) -> dict[str, Any]:
    doc: dict[str, Any] = {"action": change.action, "asset": change.asset}
    if change.kind:
        doc.update(apiVersion=change.api_version, kind=change.kind, name=change.name,
                   namespace=change.namespace)
    for key, value in (("note", change.note), ("diff", change.diff),
                       ("nodeAction", change.node_action)):
        if value:
            doc[key] = value
    if change.node_action:
        doc["pools"] = list(change.pools)
    return doc
