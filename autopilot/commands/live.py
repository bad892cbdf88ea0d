"""What the commands that read a live cluster share (``render --kubeconfig``, ``plan``).

Connect, read the HyperConverged, and turn every way that can fail (a bad
kubeconfig, an unreachable or refusing API server, no HCO, a run past its time
bound) into the one-line :class:`~autopilot.commands.UsageError` the commands
promise.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from autopilot.commands import UsageError

if TYPE_CHECKING:
    from autopilot.kube.client import KubeClient

T = TypeVar("T")

CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class LiveCluster:
    """An open client and the HCO read through it."""

    client: KubeClient
    hco: dict[str, Any]
    # How the reports name the HCO: "HyperConverged openshift-cnv/kubevirt-hyperconverged".
    subject: str


@asynccontextmanager
async def live_cluster(
    *, kubeconfig: str | None, context: str | None, namespace: str
) -> AsyncIterator[LiveCluster]:
    """Connect and read the HCO of ``namespace``; failures inside the block become one line.

    The client is closed on the way out. Logging goes to stderr at warning level, so
    the command's own output on stdout stays clean.
    """
    from autopilot.golden.live import LiveReadError, read_hco
    from autopilot.kube.client import ApiError, ApiUnreachable, ClientConfigError, KubeClient
    from autopilot.kube.wellknown import HCO_NAME
    from autopilot.observability.logging import configure_logging

    configure_logging(fmt="console", level="warning")
    try:
        client = await KubeClient.connect(kubeconfig, timeout=CONNECT_TIMEOUT, context=context)
    except ClientConfigError as exc:
        raise UsageError(str(exc)) from None
    subject = f"HyperConverged {namespace}/{HCO_NAME}"
    try:
        hco = await read_hco(client, namespace=namespace)
        if hco is None:
            raise LiveReadError(f"{subject} not found")
        yield LiveCluster(client=client, hco=hco, subject=subject)
    except (LiveReadError, ApiUnreachable) as exc:
        raise UsageError(str(exc)) from None
    except ApiError as exc:
        raise UsageError(f"reading the cluster failed: {exc}") from None
    finally:
        await client.close()


def run_bounded(work: Coroutine[Any, Any, T], *, timeout: float, what: str) -> T:
    """Run ``work`` to its end within ``timeout`` seconds, or fail with one line."""
    try:
        return asyncio.run(asyncio.wait_for(work, timeout))
    except TimeoutError:
        raise UsageError(f"{what} did not finish within {timeout:.0f}s") from None
