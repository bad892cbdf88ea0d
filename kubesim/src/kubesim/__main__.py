"""``python -m kubesim``: run kubesim until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from kubesim.loader import ManifestError
from kubesim.server import DEFAULT_TOKEN, KubeSim
from kubesim.tls import TlsUnavailable


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, serve, exit 0 on a signal."""
    parser = argparse.ArgumentParser(prog="python -m kubesim",
                                     description="Run a local Kubernetes API server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig-out", help="write a kubeconfig for the server here")
    parser.add_argument("--crds", action="append", default=[], metavar="DIR",
                        help="install the CRDs found in DIR (repeatable)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="bearer token to accept")
    parser.add_argument("--plain-http", action="store_true",
                        help="serve HTTP instead of HTTPS (kubectl then sends no token)")
    args = parser.parse_args(argv)
    try:
        sim = KubeSim(token=args.token, crd_dirs=args.crds, tls=not args.plain_http)
    except (ManifestError, ValueError, TlsUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(sim, args.host, args.port, args.kubeconfig_out))


async def _serve(sim: KubeSim, host: str, port: int, kubeconfig: str | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        url = await sim.start(host, port)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if kubeconfig:
        sim.write_kubeconfig(kubeconfig)
    print(url, flush=True)
    await stop.wait()
    await sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
