"""`autopilot run`: the controller process.

Flags become a :class:`~autopilot.config.RunConfig`; the process itself is
:func:`autopilot.runtime.process.run_controller` with the controller's logic
(:func:`autopilot.controller.wiring.build_controller`) plugged in. Problems the
user can fix (flags, kubeconfig, golden state) end as one line and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio

from autopilot.commands import UsageError
from autopilot.config import FlagError, RunConfig, add_run_arguments, config_from_args
from autopilot.controller.wiring import ControllerError, build_controller
from autopilot.kube import client as kube_client
from autopilot.kube.tlsdefaults import release_default_trust_stores
from autopilot.observability.logging import configure_logging
from autopilot.runtime.process import run_controller


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    p = subparsers.add_parser(
        "run",
        help="run the controller",
        description="Run the controller: keep the cluster in its Golden State.",
    )
    add_run_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Parse flags, set up logging and run the controller until a signal."""
    try:
        config = config_from_args(args)
    except FlagError as exc:
        raise UsageError(str(exc)) from None
    configure_logging(fmt=config.log_format, level=config.log_level)
    release_default_trust_stores()  # before the start allocates: it reuses what this frees
    return asyncio.run(controller(config))


async def controller(config: RunConfig) -> int:
    """The controller process for ``config`` (also what ``autopilot demo`` runs)."""
    try:
        return await run_controller(config, build=build_controller)
    except (kube_client.ClientConfigError, ControllerError) as exc:
        raise UsageError(str(exc)) from None
