"""``autopilot rbac``: generate the controller's least-privilege ClusterRole.

Derived from the golden state (every kind an asset renders, ``delete`` only for
tombstones, names pinned for ClusterRoles, ClusterRoleBindings and SCCs) plus the
controller's own needs. ``--check`` exits 1 when the committed file is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autopilot.commands import UsageError, plain_help
from autopilot.commands.render import load_golden
from autopilot.golden.kinds import UnrenderableAsset
from autopilot.golden.rbacgen import cluster_role_yaml

DEFAULT_RELATIVE = Path("manifests") / "rbac" / "clusterrole.yaml"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    p = subparsers.add_parser(
        "rbac", help="generate the least-privilege ClusterRole from the golden state",
        description=plain_help(__doc__),
    )
    p.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    p.add_argument("--golden-state", help="golden-state directory (default: the shipped one)")
    p.add_argument("--output", help=f"file to write (default: <project>/{DEFAULT_RELATIVE})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write (or check) the ClusterRole manifest."""
    golden = load_golden(args.golden_state)
    target = Path(args.output) if args.output else golden.root.resolve().parent / DEFAULT_RELATIVE
    try:
        wanted, silent = cluster_role_yaml(golden)
    except UnrenderableAsset as exc:
        raise UsageError(f"cannot derive RBAC: {exc}") from None
    if silent:
        sys.stderr.write(
            "autopilot: warning: rendered nothing in any variant, so no RBAC for: "
            f"{', '.join(silent)}\n"
        )
    try:
        current: str | None = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    except OSError as exc:
        raise UsageError(f"{target}: cannot read: {exc.strerror}") from None
    if args.check:
        if current != wanted:
            sys.stderr.write(f"autopilot: error: {target} is stale: run `autopilot rbac`\n")
            return 1
        return 0
    if current != wanted:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(wanted, encoding="utf-8")
    return 0
