"""`autopilot explain KIND NAME [-n NS]`: why is this object drifting or failing?

One command for the runbook's "inspect the affected resource": which asset
renders the object, the customizations in effect, pause and unmanaged state,
what a forced server-side apply would change (a dry run: nothing is written),
the controller's own view (compliance, last error) when its debug endpoint is
reachable, and the object's recent events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import aiohttp

from autopilot.commands import UsageError
from autopilot.config import add_kubeconfig_arguments
from autopilot.explain import Explanation, explain_object


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    p = subparsers.add_parser(
        "explain",
        help="why is this managed object drifting or failing",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument("kind", help="kind, e.g. MachineConfig or service (case-insensitive)")
    p.add_argument("name", help="object name")
    p.add_argument("-n", "--object-namespace", dest="object_namespace", default="",
                   help="namespace of a namespaced object")
    add_kubeconfig_arguments(p)
    p.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE", "openshift-cnv"),
                   help="namespace of the HyperConverged (default: openshift-cnv)")
    p.add_argument("--golden-state", default=None, help="golden state directory")
    p.add_argument("--debug-address", default="127.0.0.1:8081",
                   help="the controller's debug address, for its live view ('' to skip)")
    p.add_argument("--output", choices=("text", "json"), default="text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Explain one object; exit 1 when it is not a managed object."""
    from autopilot.observability.logging import configure_logging

    # The report goes to stdout; only real problems belong on stderr.
    configure_logging(fmt="console", level="warning")
    result = asyncio.run(_explain(args))
    if args.output == "json":
        sys.stdout.write(json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(result.as_text())
    return 0 if result.asset else 1


async def _explain(args: argparse.Namespace) -> Explanation:
    from autopilot.golden.catalog import GoldenStateError, load_golden_state
    from autopilot.golden.live import LiveReadError
    from autopilot.golden.locate import default_golden_state_dir
    from autopilot.kube.client import ClientConfigError, KubeClient

    try:
        golden = load_golden_state(
            default_golden_state_dir() if args.golden_state is None else _path(args.golden_state)
        )
    except GoldenStateError as exc:
        raise UsageError(str(exc)) from None
    try:
        client = await KubeClient.create(kubeconfig=args.kubeconfig, timeout=15.0,
                                         context=args.context)
    except ClientConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        live_view = await _controller_view(args)
        return await explain_object(
            client=client,
            golden=golden,
            kind=args.kind,
            name=args.name,
            namespace=args.object_namespace,
            hco_namespace=args.namespace,
            controller_view=live_view,
        )
    except LiveReadError as exc:
        raise UsageError(str(exc)) from None
    finally:
        await client.close()


def _path(text: str) -> Any:
    from pathlib import Path

    return Path(text)


async def _controller_view(args: argparse.Namespace) -> dict[str, Any] | None:
    """The running controller's own state of the object, if its debug endpoint answers."""
    if not args.debug_address:
        return None
    ns = args.object_namespace or "_"
    url = f"http://{args.debug_address}/debug/explain/{args.kind}/{ns}/{args.name}?format=json"
    try:
        timeout = aiohttp.ClientTimeout(total=3)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as resp:
            if resp.status != 200:
                return None
            data = await resp.json(content_type=None)
            return data if isinstance(data, dict) else None
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
