"""Run one of the golden commands in-process, exactly as ``autopilot.cli.main`` would."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import sys
from dataclasses import dataclass

from autopilot.cli import UsageError


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_command(name: str, *argv: str) -> Result:
    """Parse and run ``autopilot <name> argv...`` capturing stdout/stderr."""
    module = importlib.import_module(f"autopilot.commands.{name}")
    parser = argparse.ArgumentParser(prog="autopilot")
    sub = parser.add_subparsers(dest="command")
    module.add_parser(sub)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        args = parser.parse_args([name, *argv])
        try:
            code = int(args.func(args))
        except UsageError as exc:
            sys.stderr.write(f"autopilot: error: {exc}\n")
            code = 2
    return Result(code, out.getvalue(), err.getvalue())
