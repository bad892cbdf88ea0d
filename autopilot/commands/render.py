"""`autopilot render` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse

from autopilot.cli import UsageError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    p = subparsers.add_parser("render", help="not implemented yet")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise UsageError("'render' is not implemented yet")
