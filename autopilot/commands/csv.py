"""``autopilot csv``: the OLM ClusterServiceVersion, bundle/ and Containerfile.bundle.

Built from a source checkout: ``manifests/`` (the Deployment, the generated
ClusterRole, the Lease Role, ``manifests/olm/csv-base.yaml``), README.md and
pyproject.toml. ``--check`` exits 1 when a generated file is stale (CI runs it),
without writing anything. Run ``autopilot rbac`` first when the golden state changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autopilot.commands import UsageError, plain_help
from autopilot.golden.locate import candidate_dirs
from autopilot.olm.bundle import generated_files
from autopilot.olm.sources import BundleError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    p = subparsers.add_parser(
        "csv", help="write the OLM ClusterServiceVersion and bundle from manifests/",
        description=plain_help(__doc__),
    )
    p.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale")
    p.add_argument("--project", type=Path,
                   help="source checkout to read and write (default: this one)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write (or check) every generated bundle file."""
    project: Path = args.project or candidate_dirs()[0].parent
    try:
        files = generated_files(project)
    except BundleError as exc:
        raise UsageError(str(exc)) from None
    stale: list[Path] = []
    for rel, wanted in files.items():
        target = project / rel
        try:
            current: str | None = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        except OSError as exc:
            raise UsageError(f"{target}: cannot read: {exc.strerror}") from None
        if current == wanted:
            continue
        stale.append(rel)
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(wanted, encoding="utf-8")
    if args.check and stale:
        sys.stderr.write(
            f"autopilot: error: stale: {', '.join(map(str, stale))}: run `autopilot csv`\n"
        )
        return 1
    return 0
