"""The cluster's per-object series as the leader reports them, served by every replica.

Only the leader reconciles, so only it knows compliance, pauses, thrashing, tombstones,
customizations and missing dependencies. A person following a runbook reaches whichever
replica ``oc exec deploy/...`` or the Service picks. So ``/metrics`` on a standby shows
its own process series plus the leader's per-object families, fetched from the leader's
``/metrics/replica`` at the address the leader publishes on its Lease. Prometheus
scrapes ``/metrics/replica`` (each replica's own series only), so every object is
exported once and the alerts and dashboards count each object once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp
import structlog

from autopilot.observability.families import PREFIX
from autopilot.observability.metrics import Metrics

log = structlog.get_logger("autopilot.metrics")

# Where the leader's own series can be read: written on the Lease by its holder.
METRICS_URL_ANNOTATION = "platform.kubevirt.io/leader-metrics-url"
REPLICA_PATH = "/metrics/replica"
# The families only the leader computes: what the runbooks grep.
LEADER_FAMILIES = frozenset(PREFIX + name for name in (
    "compliance_status", "paused_resources", "thrashing_total", "customization_info",
    "tombstone_status", "reconcile_duration_seconds", "missing_dependency",
))
FETCH_TIMEOUT = 3.0


def published_url(*, port: int, bind_host: str, environ: dict[str, str] | None = None) -> str:
    """The URL of this replica's own series as other replicas reach it.

    The pod IP (``POD_IP``, from the downward API) when set, else the address the
    metrics server is bound to (loopback when bound to every address).
    """
    env = os.environ if environ is None else environ
    host = env.get("POD_IP") or (bind_host if bind_host not in ("", "0.0.0.0", "::") else "")
    host = host or "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}{REPLICA_PATH}"


def split_families(text: str) -> dict[str, list[str]]:
    """Exposition text -> family name (as in ``# HELP``) -> its lines, in order."""
    families: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = families.setdefault(line.split(" ", 3)[2], [])
        if current is not None and line:
            current.append(line)
    return families


def merge(own: str, leader: str) -> str:
    """``own`` with the leader-only families replaced by ``leader``'s."""
    mine, theirs = split_families(own), split_families(leader)
    out: list[str] = []
    for name, lines in mine.items():
        out.extend(theirs.get(name, lines) if name in LEADER_FAMILIES else lines)
    return "\n".join(out) + "\n"


class LeaderView:
    """Renders ``/metrics``: this replica's series, the leader's per-object families."""

    def __init__(self, *, metrics: Metrics, leader_url: Callable[[], str | None],
                 timeout: float = FETCH_TIMEOUT) -> None:
        self.metrics = metrics
        self.leader_url = leader_url
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def exposition(self) -> bytes:
        """The exposition a person asking this replica should see."""
        own = self.metrics.exposition()
        url = self.leader_url()
        if url is None:  # leading, or no leader known
            return own
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.path != REPLICA_PATH or parts.query:
            # Only another replica's own series: the Lease must not make us fetch anything.
            note = f"# the leader published no usable address for its series ({url!r})\n"
            return own + note.encode()
        try:
            leader = await self._fetch(url)
        except (aiohttp.ClientError, TimeoutError, OSError, UnicodeDecodeError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            log.debug("leader's series unavailable", url=url, error=reason)
            note = f"# the leader's per-object series are unavailable ({url}: {reason})\n"
            return own + note.encode()
        return merge(own.decode(), leader).encode()

    async def _fetch(self, url: str) -> str:
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=False)
        async with asyncio.timeout(self.timeout), self._session.get(url) as resp:
            if resp.status != 200:
                raise aiohttp.ClientError(f"HTTP {resp.status}")
            return await resp.text()

    async def close(self) -> None:
        """Close the HTTP session (at shutdown)."""
        if self._session is not None:
            await self._session.close()
