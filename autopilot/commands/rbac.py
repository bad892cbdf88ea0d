"""``autopilot rbac``: generate the controller's least-privilege RBAC, and police it.

Derived from the golden state (``manifests/rbac/clusterrole.yaml``: reads, cluster-scoped
objects by name, events; ``manifests/rbac/namespaced.yaml``: a Role and RoleBinding in
every namespace the golden state writes to). ``--check`` exits 1 when a generated file
is stale, or when any manifest of the install or the OLM CSV, hand-edited ones included,
grants more than the least-privilege policy allows (escalate, wildcards, secrets,
unnamed or cluster-wide namespaced writes, ...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from autopilot.commands import UsageError, plain_help
from autopilot.commands.render import load_golden
from autopilot.golden.kinds import UnrenderableAsset
from autopilot.golden.rbaccheck import binding_problems, grants_of, rule_problems
from autopilot.golden.rbacdocs import generated_files

CSV_GLOB = "*.clusterserviceversion.yaml"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    p = subparsers.add_parser(
        "rbac", help="generate the least-privilege RBAC from the golden state",
        description=plain_help(__doc__),
    )
    p.add_argument("--check", action="store_true",
                   help="exit 1 when a file is stale or any manifest grants too much")
    p.add_argument("--golden-state", help="golden-state directory (default: the shipped one)")
    p.add_argument("--manifests",
                   help="the install's manifests directory (default: <project>/manifests)")
    p.set_defaults(func=run)


def _documents(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        docs = list(YAML(typ="safe", pure=True).load_all(text))
    except YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    return [d for d in docs if isinstance(d, dict)]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None


def policy_problems(manifests: Path, contents: dict[Path, str]) -> list[str]:
    """Every least-privilege violation in the install's manifests and the OLM CSVs.

    ``contents`` overrides what is on disk (the freshly generated files).
    """
    paths = set(manifests.rglob("*.yaml")) | set(contents)
    paths |= set((manifests.parent / "bundle" / "manifests").glob(CSV_GLOB))
    docs: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(paths):
        text = contents.get(path)
        text = _read(path) if text is None else text
        docs.extend((str(path), doc) for doc in _documents(path, text or ""))
    defined = {(str(d.get("kind")), str((d.get("metadata") or {}).get("name")))
               for _src, d in docs if d.get("kind") in ("Role", "ClusterRole")}
    grants = [g for src, doc in docs for g in grants_of(src, doc)]
    problems = rule_problems(grants)
    for src, doc in docs:
        problems.extend(binding_problems(src, doc, defined))
    return problems


def run(args: argparse.Namespace) -> int:
    """Write (or check) the generated RBAC, then check every manifest against the policy."""
    golden = load_golden(args.golden_state)
    manifests = Path(args.manifests) if args.manifests else \
        golden.root.resolve().parent / "manifests"
    try:
        files, silent = generated_files(golden)
    except UnrenderableAsset as exc:
        raise UsageError(f"cannot derive RBAC: {exc}") from None
    if silent:
        sys.stderr.write(
            "autopilot: warning: rendered nothing in any variant, so no RBAC for: "
            f"{', '.join(silent)}\n"
        )
    wanted = {manifests / rel: text for rel, text in files.items()}
    # --check polices what is shipped (on disk); generating, what is about to be written.
    problems = policy_problems(manifests, {} if args.check else wanted)
    stale = [path for path, text in wanted.items() if _read(path) != text]
    if args.check:
        for path in stale:
            sys.stderr.write(f"autopilot: error: {path} is stale: run `autopilot rbac`\n")
    elif not any(str(path) in p for path in wanted for p in problems):
        for path in stale:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wanted[path], encoding="utf-8")
        stale = []
    for problem in problems:
        sys.stderr.write(f"autopilot: error: least privilege: {problem}\n")
    return 1 if problems or stale else 0
