"""``autopilot render``: what the controller would apply, offline or against a live cluster.

Uses the controller's own code path (:func:`autopilot.golden.plan.plan_inputs` over
:class:`~autopilot.golden.inputs.RenderInputs`). Offline (``--hco-file``) there are
no nodes and cluster lookups give their documented defaults; live (``--kubeconfig``)
reads the HCO, nodes, Infrastructure and Scheduler and looks up like the controller.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from autopilot.commands import UsageError, plain_help
from autopilot.commands.live import live_cluster, run_bounded
from autopilot.config import add_kubeconfig_arguments
from autopilot.engine import overrides
from autopilot.engine.renames import follow_renames
from autopilot.golden.catalog import GoldenState, GoldenStateError, load_golden_state
from autopilot.golden.context import NodesSummary
from autopilot.golden.gate import Activation, activation_for
from autopilot.golden.inputs import RenderInputs
from autopilot.golden.locate import resolve_golden_state_dir
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.plan import AssetPlan, plan_inputs
from autopilot.golden.templating import to_yaml

DEFAULT_NAMESPACE = "openshift-cnv"
LIVE_TIMEOUT = 60.0

ExcludedFn = Callable[[dict[str, Any]], bool]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    p = subparsers.add_parser(
        "render",
        help="render the golden state for an HCO (offline file or live cluster)",
        description=plain_help(__doc__),
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--hco-file", type=Path, help="HyperConverged YAML file (offline)")
    source.add_argument("--kubeconfig", help="kubeconfig of a live cluster")
    source.add_argument("--live", action="store_true",
                        help="render against the cluster found as kubectl finds it "
                             "($KUBECONFIG, in-cluster, ~/.kube/config)")
    add_kubeconfig_arguments(p, kubeconfig=False)
    p.add_argument(
        "--namespace", default=DEFAULT_NAMESPACE, help="HCO namespace (live; default %(default)s)"
    )
    p.add_argument("--asset", help="render only this asset")
    p.add_argument(
        "--show-excluded",
        action="store_true",
        help="also show excluded assets and objects matched by disabled-resources",
    )
    p.add_argument("--output", choices=("yaml", "json", "status"), default="yaml")
    p.add_argument("--golden-state", help="golden-state directory (default: the shipped one)")
    p.set_defaults(func=run)


def load_golden(path: str | None) -> GoldenState:
    """Load the golden state for a command; problems become a one-line usage error."""
    try:
        return load_golden_state(resolve_golden_state_dir(path))
    except GoldenStateError as exc:
        raise UsageError(str(exc)) from None


def read_hco_file(path: Path) -> dict[str, Any]:
    """The HyperConverged document of a YAML file (one line errors)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        docs = [d for d in YAML(typ="safe", pure=True).load_all(text) if d is not None]
    except YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "HyperConverged":
            return doc
    raise UsageError(f"{path}: no HyperConverged object in the file")


def _disabled_filter(
    hco: dict[str, Any], golden: GoldenState
) -> tuple[ExcludedFn | None, str | None]:
    """A predicate for objects excluded by ``disabled-resources``, or a parse problem."""
    annotations = (hco.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(overrides.DISABLED_RESOURCES)
    if not raw:
        return None, None
    try:
        rules = follow_renames(overrides.parse_disabled_resources(str(raw)), golden.tombstones)
    except overrides.ExclusionError as exc:  # fail open, like the controller
        return None, f"{overrides.DISABLED_RESOURCES} ignored: {' '.join(str(exc).split())}"

    def check(obj: dict[str, Any]) -> bool:
        return overrides.is_excluded(obj, rules)

    return check, None


def _warn(message: str) -> None:
    sys.stderr.write(f"autopilot: warning: {message}\n")


def _plan(golden: GoldenState, inputs: RenderInputs, asset: str | None) -> list[AssetPlan]:
    return plan_inputs(golden, inputs, assets=[golden.asset(asset)] if asset else None)


async def _live_plans(
    args: argparse.Namespace, golden: GoldenState
) -> tuple[dict[str, Any], list[AssetPlan]]:
    from autopilot.golden.live import read_live_inputs

    async with live_cluster(kubeconfig=args.kubeconfig, context=args.context,
                            namespace=args.namespace) as live:
        _, inputs = await read_live_inputs(live.client, hco=live.hco, namespace=args.namespace)
        return live.hco, await asyncio.to_thread(_plan, golden, inputs, args.asset)


def _gather(
    args: argparse.Namespace, golden: GoldenState
) -> tuple[dict[str, Any], list[AssetPlan]]:
    if args.asset and not golden.has_asset(args.asset):
        raise UsageError(f"unknown asset {args.asset!r}")
    if args.hco_file is not None:
        hco = read_hco_file(args.hco_file)
        inputs = RenderInputs(
            hco=hco,
            namespace=str((hco.get("metadata") or {}).get("namespace") or DEFAULT_NAMESPACE),
            nodes=NodesSummary.of([]),
            infrastructure=None,
            scheduler=None,
            environ=dict(os.environ),
            lookups=OfflineLookups(),
        )
        return hco, _plan(golden, inputs, args.asset)
    return run_bounded(_live_plans(args, golden), timeout=LIVE_TIMEOUT, what="live render")


def _state(plan: AssetPlan) -> str:
    if plan.error:
        return "ERROR"
    return "INCLUDED" if plan.included else "EXCLUDED"


def format_status(plans: list[AssetPlan], excluded: ExcludedFn | None) -> str:
    """A fixed-width table: NAME, GROUP/FEATURE, STATE, REASON."""
    rows = [("NAME", "GROUP/FEATURE", "STATE", "REASON")]
    for plan in plans:
        reason = plan.error or plan.reason
        if excluded is not None and plan.objects:
            hidden = sum(1 for obj in plan.objects if excluded(obj))
            if hidden:
                reason += f"; {hidden} object(s) excluded by disabled-resources"
        where = f"{plan.asset.group or '-'}/{plan.asset.feature or '-'}"
        rows.append((plan.asset.name, where, _state(plan), reason))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def format_aliases(golden: GoldenState, activation: Activation) -> str:
    """The other names the allowlist accepts and what each selects of ours.

    Printed after the asset table, separated by a blank line; entries of the HCO's own
    allowlist are marked with ``*``.
    """
    if not golden.aliases:
        return ""
    used = {n.lower() for n in activation.names} if activation.mode == "list" else set()
    rows = [("ALIAS", "FROM", "SELECTS")]
    rows += [
        (("* " if a.key in used else "") + a.name, a.origin, a.describe())
        for a in golden.aliases
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n" + "".join(
        f"{name.ljust(widths[0])}  {origin.ljust(widths[1])}  {what}\n"
        for name, origin, what in rows
    )


def format_yaml(plans: list[AssetPlan], excluded: ExcludedFn | None, show_excluded: bool) -> str:
    """Multi-document YAML of every object to apply (comments name the asset)."""
    out = io.StringIO()
    for plan in plans:
        if not plan.objects:
            if show_excluded and not plan.error:
                out.write(f"# asset {plan.asset.name}: excluded ({plan.reason})\n")
            continue
        for obj in plan.objects:
            hidden = excluded is not None and excluded(obj)
            if hidden and not show_excluded:
                continue
            out.write("---\n")
            out.write(f"# asset: {plan.asset.name}\n")
            if hidden:
                out.write("# excluded by platform.kubevirt.io/disabled-resources\n")
            out.write(to_yaml(obj) + "\n")
    return out.getvalue()


def format_json(plans: list[AssetPlan], excluded: ExcludedFn | None, show_excluded: bool) -> str:
    """A ``v1`` ``List`` of every object to apply (``kubectl apply -f`` accepts it)."""
    items = [
        obj
        for plan in plans
        for obj in plan.objects
        if show_excluded or excluded is None or not excluded(obj)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2) + "\n"


def run(args: argparse.Namespace) -> int:
    """Render and print; exit 1 when an asset failed to render."""
    golden = load_golden(args.golden_state)
    hco, plans = _gather(args, golden)
    activation = activation_for(hco, golden)
    if activation.idle:
        _warn("platform.kubevirt.io/autopilot is not enabled on this HCO: nothing would apply")
    if activation.unknown:
        _warn(f"unknown assets/groups in platform.kubevirt.io/autopilot: "
              f"{activation.unknown_note()}")
    excluded, problem = _disabled_filter(hco, golden)
    if problem:
        _warn(problem)
    if args.output == "status":
        sys.stdout.write(format_status(plans, excluded))
        sys.stdout.write(format_aliases(golden, activation))
    elif args.output == "json":
        sys.stdout.write(format_json(plans, excluded, args.show_excluded))
    else:
        sys.stdout.write(format_yaml(plans, excluded, args.show_excluded))
    errors = [plan.error for plan in plans if plan.error]
    for error in errors:
        sys.stderr.write(f"autopilot: error: {error}\n")
    return 1 if errors else 0
