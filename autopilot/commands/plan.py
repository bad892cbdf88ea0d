"""``autopilot plan``: what the controller would change on a live cluster, and what it costs.

Every object the controller would apply for the HCO (as it is, or with ``--enable``
as it would be with ``platform.kubevirt.io/autopilot=true``) is checked with a
server-side dry-run apply under the controller's field manager, and the deletes the
tombstones would make are listed; MachineConfigs and KubeletConfigs show the pools
they reach and what the nodes do. Reads and dry runs only: nothing is written.

Exit status as ``kubectl diff``: 0 nothing would change, 1 something would change,
2 an error (cluster unreachable, HCO absent, or the API server would refuse an object).
"""

from __future__ import annotations

import argparse
import sys

from autopilot.commands import UsageError, plain_help
from autopilot.commands.live import live_cluster, run_bounded
from autopilot.commands.render import DEFAULT_NAMESPACE, load_golden
from autopilot.config import add_kubeconfig_arguments
from autopilot.plan import changes as ch
from autopilot.plan.report import format_json, format_text
from autopilot.plan.survey import Plan, preview_enabled, survey

# Every request has its own timeout; this bounds the whole plan of a large cluster.
PLAN_TIMEOUT = 300.0
EXIT_SAME, EXIT_CHANGES, EXIT_ERROR = 0, 1, 2


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    p = subparsers.add_parser(
        "plan",
        help="show what the controller would change on a live cluster (writes nothing)",
        description=plain_help(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--kubeconfig", required=True, help="kubeconfig of the live cluster")
    add_kubeconfig_arguments(p, kubeconfig=False)
    p.add_argument("--namespace", default=DEFAULT_NAMESPACE,
                   help="HCO namespace (default %(default)s)")
    p.add_argument("--asset", help="plan only this asset (no tombstones)")
    p.add_argument("--enable", action="store_true",
                   help="preview platform.kubevirt.io/autopilot=true before setting it")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")
    p.add_argument("--golden-state", help="golden-state directory (default: the shipped one)")
    p.set_defaults(func=run)


async def _survey(args: argparse.Namespace) -> tuple[str, Plan]:
    golden = load_golden(args.golden_state)
    if args.asset and not golden.has_asset(args.asset):
        raise UsageError(f"unknown asset {args.asset!r}")
    async with live_cluster(kubeconfig=args.kubeconfig, context=args.context,
                            namespace=args.namespace) as live:
        hco, subject = live.hco, live.subject
        if args.enable:
            hco = preview_enabled(hco)
            subject += " (previewing platform.kubevirt.io/autopilot enabled)"
        plan = await survey(live.client, golden=golden, hco=hco, namespace=args.namespace,
                            asset=args.asset)
        return subject, plan


def run(args: argparse.Namespace) -> int:
    """Plan and print; the exit status says whether anything would change."""
    subject, plan = run_bounded(_survey(args), timeout=PLAN_TIMEOUT, what="plan")
    for warning in plan.warnings:
        sys.stderr.write(f"autopilot: warning: {warning}\n")
    if args.output == "json":
        sys.stdout.write(format_json(plan, subject=subject))
    else:
        sys.stdout.write(format_text(plan, subject=subject))
    if any(c.action == ch.WOULD_FAIL for c in plan.changes):
        return EXIT_ERROR
    return EXIT_CHANGES if plan.changes_anything else EXIT_SAME
