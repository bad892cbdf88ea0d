"""``autopilot csv``: the OLM ClusterServiceVersion, bundle/ and Containerfile.bundle.

Built from a source checkout: ``manifests/`` (the Deployment, the generated
ClusterRole, the Lease Role, ``manifests/olm/csv-base.yaml``), README.md and
pyproject.toml. ``--check`` exits 1 when a generated file is stale (CI runs it),
without writing anything. Run ``autopilot rbac`` first when the golden state changed.

A release passes its images (by digest) and version, e.g.
  autopilot csv --image quay.io/kubevirt/virt-platform-autopilot@sha256:<digest> \\
    --related-image KUBEVIRT_METRICS_EXPORTER=quay.io/...@sha256:<digest> \\
    --version 0.2.0 --created-at 2026-01-31T12:00:00Z
(``--created-at`` defaults to csv-base.yaml's createdAt, so that ``--check`` gives the
same answer in every environment).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autopilot.commands import UsageError, plain_help
from autopilot.golden.locate import source_checkout
from autopilot.olm.bundle import generated_files
from autopilot.olm.options import SEMVER, CsvOptions, parse_related
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
    p.add_argument("--image", help="the controller's image (default: the Deployment's)")
    p.add_argument("--version", dest="csv_version", metavar="VERSION",
                   help="the bundle's version, semver (default: pyproject.toml's)")
    p.add_argument("--related-image", action="append", default=[], metavar="NAME=IMAGE",
                   help="set RELATED_IMAGE_<NAME> (repeatable), e.g. "
                        "KUBEVIRT_METRICS_EXPORTER=registry/image@sha256:...")
    p.add_argument("--created-at", metavar="TIME",
                   help="the CSV's createdAt, ISO 8601 (default: csv-base.yaml's)")
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> CsvOptions:
    """The release inputs given on the command line (one-line errors)."""
    version = args.csv_version
    if version is not None and not SEMVER.match(version):
        raise BundleError(f"--version: {version!r} is not a semantic version (like 0.2.0)")
    return CsvOptions(image=args.image, version=version,
                      related=parse_related(args.related_image), created_at=args.created_at)


def run(args: argparse.Namespace) -> int:
    """Write (or check) every generated bundle file."""
    project: Path = args.project or source_checkout()
    try:
        files = generated_files(project, options_from_args(args))
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
