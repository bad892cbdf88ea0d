"""`autopilot demo`: the embedded local cluster with the controller running against it."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from autopilot.commands import UsageError
from autopilot.config import RunConfig

if TYPE_CHECKING:
    from autopilot.golden.catalog import GoldenState
    from kubesim import KubeSim


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    p = subparsers.add_parser(
        "demo",
        help="run the controller against an embedded local cluster",
        description="Start a local API server seeded with a small platform, and the controller.",
    )
    p.add_argument("--api-port", type=int, default=0, help="API server port (default: any free)")
    p.add_argument("--metrics-port", type=int, default=8080, help="metrics port (default 8080)")
    p.add_argument("--health-port", type=int, default=8082, help="health port (default 8082)")
    p.add_argument("--debug-port", type=int, default=8081, help="debug port (default 8081)")
    p.add_argument("--workdir", default=None,
                   help="where to write the kubeconfig (default: a new temporary folder)")
    p.add_argument("--log-format", choices=("json", "console"), default=None)
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the demo and run until Ctrl-C / SIGTERM."""
    from autopilot.demo import demo_token
    from autopilot.golden.catalog import GoldenStateError, load_golden_state
    from autopilot.golden.locate import default_golden_state_dir
    from autopilot.observability.logging import configure_logging

    server = _kubesim()
    for port in (args.api_port, args.metrics_port, args.health_port, args.debug_port):
        if not 0 <= port <= 65535:
            raise UsageError(f"invalid port {port}")
    try:
        golden = load_golden_state(default_golden_state_dir())
    except GoldenStateError as exc:
        raise UsageError(str(exc)) from None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="autopilot-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    kubeconfig = workdir / "kubeconfig"

    sim = server(token=demo_token())
    try:
        url = sim.start_in_thread(host="127.0.0.1", port=args.api_port)
    except OSError as exc:
        raise UsageError(f"cannot start the local API server: {exc}") from None
    try:
        sim.write_kubeconfig(kubeconfig)
        config = _run_config(args, kubeconfig)
        configure_logging(fmt=config.log_format, level=config.log_level)
        return asyncio.run(_seed_and_run(args, golden, config, url=url))
    finally:
        sim.stop()


def _kubesim() -> type[KubeSim]:
    """kubesim's server, which is not part of the controller: it comes with the ``demo`` extra."""
    try:
        from kubesim import KubeSim
    except ImportError:
        raise UsageError(
            "the demo needs kubesim, the local API server: install the demo extra "
            "(pip install ./kubesim '.[demo]'), or run `bash .ci/demo`"
        ) from None
    return KubeSim


def _run_config(args: argparse.Namespace, kubeconfig: Path) -> RunConfig:
    log_format = args.log_format or ("console" if sys.stderr.isatty() else "json")
    return replace(
        RunConfig(),
        kubeconfig=str(kubeconfig),
        log_format=log_format,
        log_level=args.log_level,
        metrics_bind_address=f":{args.metrics_port}",
        health_probe_bind_address=f":{args.health_port}",
        debug_bind_address=f"127.0.0.1:{args.debug_port}",
    )


async def _seed_and_run(
    args: argparse.Namespace, golden: GoldenState, config: RunConfig, *, url: str
) -> int:
    """Seed the demo platform, say what to try, then run the controller."""
    from autopilot.commands.run import controller
    from autopilot.demo import instructions, seed
    from autopilot.kube.client import KubeClient

    assert config.kubeconfig is not None
    client = await KubeClient.create(config.kubeconfig)
    try:
        await seed(client, golden)
    finally:
        await client.close()
    kubeconfig = Path(config.kubeconfig)
    sys.stdout.write(f"local API server: {url}\nkubeconfig: {kubeconfig}\n")
    sys.stdout.write(instructions(kubeconfig, args.metrics_port, config.debug_bind_address))
    sys.stdout.flush()
    return await controller(config)
