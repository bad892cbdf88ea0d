"""Command-line entry point: one sub-command per module under ``autopilot.commands``.

Each command module exposes ``add_parser(subparsers)`` and ``run(args) -> int``.
Every failure is one line on stderr, never a traceback; the exit codes are listed
in ``autopilot.commands`` (0 ok, 1 "no", 2 bad input, 3 internal error).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, Protocol, cast

# Commands raise it; defined with them so that they need nothing from this dispatcher.
from autopilot import __version__
from autopilot.commands import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
)

__all__ = ["COMMANDS", "UsageError", "build_parser", "main"]

COMMANDS = ("run", "render", "plan", "rbac", "features", "csv", "explain", "demo")

# Read by the dependency when first imported, so set before a command imports it (a
# value already in the environment wins). frozenlist, under aiohttp, is a C++
# extension: loading it maps libstdc++, 0.7-0.9 MB of the controller's resident set,
# for aiohttp's few frozen lists (its signals, read at start and stop), which the
# pure-Python implementation frozenlist documents serves as well.
PURE_PYTHON_DEPENDENCIES = {"FROZENLIST_NO_EXTENSIONS": "1"}
# What ``run`` imports before anything else, with no CA bundle: see _import_early.
IMPORTED_WITHOUT_CA_BUNDLE = "aiohttp.connector"


class _Command(Protocol):
    def add_parser(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        ...

    def run(self, args: argparse.Namespace) -> int:
        ...


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, never a usage dump plus traceback.

    Descriptions keep their paragraphs (the commands' docstrings are written as prose).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"autopilot: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser(*, only: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser with every sub-command registered, or only ``only``.

    Registering a command imports its module, and through it what the command runs:
    ``autopilot run`` need not import the bundle generator, the planner or the demo.
    """
    parser = _Parser(
        prog="autopilot",
        description="Keep an OpenShift Virtualization cluster in its Golden State.",
    )
    parser.add_argument("--version", action="version", version=f"autopilot {__version__}")
    sub: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    sub.required = True
    for name in COMMANDS if only is None else (only,):
        module = cast(_Command, importlib.import_module(f"autopilot.commands.{name}"))
        module.add_parser(sub)
    return parser


def _chosen(argv: Sequence[str]) -> str | None:
    """The command named on the line, when it is one; None (every command) otherwise.

    ``autopilot --help`` and a mistyped name need every command, for the list.
    """
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


def _import_early() -> None:
    """Import aiohttp's connector with ``SSL_CERT_FILE`` on an empty file, restored after.

    Importing it builds two default TLS contexts, each loading the system's CA bundle:
    60 to 90 ms of the controller's start. ``run`` never uses them (every request
    carries the context built from the kubeconfig, after this), and without the bundle
    they trust no more than before: at most the certificate directory, read lazily.
    """
    saved = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = os.devnull
    try:
        importlib.import_module(IMPORTED_WITHOUT_CA_BUNDLE)
    finally:
        if saved is None:
            del os.environ["SSL_CERT_FILE"]
        else:
            os.environ["SSL_CERT_FILE"] = saved


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    for name, value in PURE_PYTHON_DEPENDENCIES.items():
        os.environ.setdefault(name, value)
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = _chosen(args_list)
    if chosen == "run":
        _import_early()
    parser = build_parser(only=chosen)
    args = parser.parse_args(args_list)
    try:
        return int(args.func(args))
    except UsageError as exc:
        sys.stderr.write(f"autopilot: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # last line of defence: one line, never a traceback
        sys.stderr.write(f"autopilot: internal error: {type(exc).__name__}: {exc}\n")
        return EXIT_INTERNAL
