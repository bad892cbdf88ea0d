"""Flags of ``autopilot run`` (contract §11) parsed into a frozen :class:`RunConfig`.

Every bad value becomes one line naming the flag, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from autopilot.web import parse_bind_address

DEFAULT_NAMESPACE = "openshift-cnv"
DEFAULT_RESYNC = "5m"
DEFAULT_EDIT_WAR_WINDOW = "10m"
LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
          "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class FlagError(ValueError):
    """A flag has a bad value (one-line message)."""


def parse_duration(text: str) -> float:
    """Parse a Go duration (``5m``, ``30s``, ``1h30m``, ``1.5h``, ``250ms``) into seconds.

    ``0`` is accepted without a unit, as in Go. Negative values are refused.
    """
    raw = text.strip()
    if raw == "0":
        return 0.0
    if raw.startswith("-"):
        raise ValueError(f"invalid duration {text!r}: must not be negative")
    pos = 0
    total = 0.0
    raw = raw.lstrip("+")
    if not raw:
        raise ValueError(f"invalid duration {text!r}: expected e.g. 30s, 5m or 1h30m")
    while pos < len(raw):
        m = _PART.match(raw, pos)
        if m is None:
            raise ValueError(f"invalid duration {text!r}: expected e.g. 30s, 5m or 1h30m")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return total


def parse_bool(text: str) -> bool:
    """``true``/``false`` (and 1/0, yes/no) in any case."""
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


@dataclass(frozen=True)
class RunConfig:
    """Everything ``autopilot run`` needs, validated."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    leader_elect: bool = False
    resync_period: float = 300.0
    log_format: str = "json"
    log_level: str = "info"
    golden_state: Path | None = None
    metrics_bind_address: str = ":8080"
    health_probe_bind_address: str = ":8082"
    debug_bind_address: str = "127.0.0.1:8081"
    workers: int = 2
    edit_war_window: float = 600.0
    # Report what would be applied, write nothing (``--observe``).
    observe: bool = False


KUBECONFIG_HELP = ("kubeconfig file (default: $KUBECONFIG, a list; then in-cluster; "
                   "then ~/.kube/config)")


def add_kubeconfig_arguments(parser: argparse.ArgumentParser, *, kubeconfig: bool = True
                             ) -> None:
    """``--kubeconfig`` and ``--context``, as every command talking to a cluster has them."""
    if kubeconfig:
        parser.add_argument("--kubeconfig", default=None, help=KUBECONFIG_HELP)
    parser.add_argument("--context", default=None,
                        help="kubeconfig context to use (default: its current-context)")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the flags of ``autopilot run``. Values are validated by :func:`config_from_args`."""
    add_kubeconfig_arguments(parser)
    parser.add_argument("--namespace", default=None,
                        help="namespace of the HyperConverged and the Lease (default: "
                             f"$POD_NAMESPACE, the pod's own, else {DEFAULT_NAMESPACE})")
    parser.add_argument("--leader-elect", nargs="?", const="true", default="false",
                        metavar="BOOL", help="elect a leader through a Lease (default false)")
    parser.add_argument("--resync-period", default=DEFAULT_RESYNC, metavar="DURATION",
                        help="re-check everything this often, e.g. 5m, 30s, 1h30m; 0 disables "
                             f"(default {DEFAULT_RESYNC})")
    parser.add_argument("--log-format", default=None, metavar="json|console",
                        help="log format (default: console on a terminal, else json)")
    parser.add_argument("--log-level", default="info", metavar="LEVEL",
                        help="debug, info, warning or error (default info)")
    parser.add_argument("--golden-state", default=None, metavar="DIR",
                        help="golden-state directory (default: the one shipped)")
    parser.add_argument("--metrics-bind-address", default=":8080", metavar="ADDR",
                        help="[host]:port for /metrics (default :8080)")
    parser.add_argument("--health-probe-bind-address", default=":8082", metavar="ADDR",
                        help="[host]:port for /healthz and /readyz (default :8082)")
    parser.add_argument("--debug-bind-address", default="127.0.0.1:8081", metavar="ADDR",
                        help="[host]:port for /debug/...; empty disables (default 127.0.0.1:8081)")
    parser.add_argument("--workers", default="2", metavar="N",
                        help="concurrent reconcile workers (default 2)")
    parser.add_argument("--edit-war-window", default=DEFAULT_EDIT_WAR_WINDOW,
                        metavar="DURATION",
                        help="an object whose fields another writer takes back 5 times within "
                             "this window is paused as an edit war "
                             f"(default {DEFAULT_EDIT_WAR_WINDOW})")
    parser.add_argument("--observe", action="store_true",
                        help="watch, detect drift and report it, but write nothing: every apply "
                             "becomes a server-side dry run logged as 'would apply' (no events, "
                             "no pause annotations, no tombstone deletes, no leader election)")


def _bind(flag: str, value: str, *, may_be_empty: bool) -> str:
    text = (value or "").strip()
    if not text:
        if may_be_empty:
            return ""
        raise FlagError(f"{flag}: an address is required, e.g. ':8080'")
    try:
        parse_bind_address(text)
    except ValueError as exc:
        raise FlagError(f"{flag}: {exc}") from None
    return text


def _logging(args: argparse.Namespace, *, isatty: bool | None) -> tuple[str, str]:
    """(format, level) from ``--log-format`` and ``--log-level``."""
    fmt = args.log_format
    if fmt is None:
        tty = sys.stderr.isatty() if isatty is None else isatty
        fmt = "console" if tty else "json"
    fmt = str(fmt).lower()
    if fmt not in LOG_FORMATS:
        raise FlagError(f"--log-format: expected json or console, got {args.log_format!r}")
    level = str(args.log_level).lower()
    if level == "warn":
        level = "warning"
    if level not in LOG_LEVELS:
        raise FlagError(
            f"--log-level: expected one of {', '.join(LOG_LEVELS)}, got {args.log_level!r}"
        )
    return fmt, level


def _paths(args: argparse.Namespace) -> tuple[Path | None, str | None]:
    """``--golden-state`` and ``--kubeconfig``, checked to exist."""
    golden: Path | None = None
    if args.golden_state:
        golden = Path(args.golden_state)
        if not golden.is_dir():
            raise FlagError(f"--golden-state: {golden} is not a directory")
    kubeconfig = args.kubeconfig or None
    if kubeconfig is not None and not Path(kubeconfig).is_file():
        raise FlagError(f"--kubeconfig: {kubeconfig} does not exist")
    return golden, kubeconfig


def _edit_war_window(args: argparse.Namespace) -> float:
    try:
        window = parse_duration(str(args.edit_war_window))
    except ValueError as exc:
        raise FlagError(f"--edit-war-window: {exc}") from None
    if window < 1:
        raise FlagError(f"--edit-war-window: {args.edit_war_window!r} is too short "
                          "(minimum 1s)")
    return window


def _namespace(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    source = "--namespace" if args.namespace else "POD_NAMESPACE"
    namespace = str(args.namespace or env.get("POD_NAMESPACE") or DEFAULT_NAMESPACE).strip()
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", namespace):
        raise FlagError(f"{source}: {namespace!r} is not a valid namespace name")
    return namespace


def config_from_args(
    args: argparse.Namespace, *, isatty: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunConfig:
    """Validate parsed flags into a :class:`RunConfig`; raises :class:`FlagError`.

    The namespace is ``--namespace``, else ``$POD_NAMESPACE`` (the Deployment sets it
    from the pod's own namespace, so an OLM install into any OperatorGroup namespace
    works unchanged), else the default.
    """
    try:
        leader_elect = parse_bool(str(args.leader_elect))
    except ValueError as exc:
        raise FlagError(f"--leader-elect: {exc}") from None
    observe = bool(getattr(args, "observe", False))
    try:
        resync = parse_duration(str(args.resync_period))
    except ValueError as exc:
        raise FlagError(f"--resync-period: {exc}") from None
    if 0 < resync < 1:
        raise FlagError(f"--resync-period: {args.resync_period!r} is too short (minimum 1s)")

    fmt, level = _logging(args, isatty=isatty)
    namespace = _namespace(args, os.environ if environ is None else environ)

    try:
        workers = int(str(args.workers))
    except ValueError:
        raise FlagError(f"--workers: expected a whole number, got {args.workers!r}") from None
    if not 1 <= workers <= 64:
        raise FlagError(f"--workers: must be between 1 and 64, got {workers}")

    window = _edit_war_window(args)
    golden, kubeconfig = _paths(args)

    return RunConfig(
        kubeconfig=kubeconfig,
        context=args.context or None,
        namespace=namespace,
        # An observer writes nothing, so it needs no leader; it must never hold the
        # Lease a writing instance waits for.
        leader_elect=leader_elect and not observe,
        observe=observe,
        resync_period=resync,
        log_format=fmt,
        log_level=level,
        golden_state=golden,
        metrics_bind_address=_bind("--metrics-bind-address", args.metrics_bind_address,
                                   may_be_empty=False),
        health_probe_bind_address=_bind("--health-probe-bind-address",
                                        args.health_probe_bind_address, may_be_empty=False),
        debug_bind_address=_bind("--debug-bind-address", args.debug_bind_address,
                                 may_be_empty=True),
        workers=workers,
        edit_war_window=window,
    )
