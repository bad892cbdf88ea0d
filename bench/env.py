"""One benchmark environment: an API server, the seeded platform and the controller process.

kubesim by default (in a thread of this process), a real kube-apiserver + etcd
when ``KUBEBUILDER_ASSETS`` provides them; a fresh one for every benchmark. The
controller always runs as its own process (``python -m autopilot run``) and is
measured from ``/proc``. Its API requests are counted by the server: kubesim
counts them by User-Agent, a real server writes them to its audit log
(:mod:`tests.support.audit`); either way dry runs are told apart.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.client import BenchClient
from bench.platform import PlatformSpec, seed
from kubesim.controls import LoggedRequest
from tests.support.audit import AuditLog, RequestKey, requests_in
from tests.support.cluster import Cluster, kubesim_cluster, real_assets, real_cluster
from tests.support.controller import Controller
from tests.support.wait import eventually_sync

CONTROLLER_UA = "virt-platform-autopilot"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    """CPU seconds (user+system), RSS and peak RSS (bytes), context switches, at a time."""

    at: float
    cpu: float
    rss: int
    hwm: int
    ctx_switches: int


def proc_sample(pid: int) -> ProcSample:
    """Read /proc/<pid>/stat and /proc/<pid>/status (context switches of every thread)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rpartition(")")[2].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    rss = hwm = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == "VmRSS":
            rss = int(value.split()[0]) * 1024
        elif name == "VmHWM":
            hwm = int(value.split()[0]) * 1024
    return ProcSample(time.monotonic(), cpu, rss, hwm, _context_switches(pid))


def _context_switches(pid: int) -> int:
    """Voluntary + involuntary switches summed over the threads alive now."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                total += int(value)
    return total


def cpu_percent(a: ProcSample, b: ProcSample) -> float:
    """Share of one core used between two samples, in percent."""
    return 100.0 * (b.cpu - a.cpu) / max(1e-9, b.at - a.at)


def log_time(line: dict[str, Any]) -> float:
    """Wall-clock seconds of a JSON log line's ``timestamp``."""
    stamp = str(line.get("timestamp", ""))
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class LogTail:
    """Incremental reader of the controller's JSON log file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.lines: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        """New complete lines since the last call (also appended to ``lines``)."""
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        chunks = (self._partial + data).split(b"\n")
        self._partial = chunks.pop()
        new = []
        for raw in chunks:
            try:
                item = json.loads(raw)
            except ValueError:
                continue
            if isinstance(item, dict):
                new.append(item)
        self.lines.extend(new)
        return new

    def find(self, event: str) -> list[dict[str, Any]]:
        """Lines with this ``event`` read so far."""
        return [x for x in self.lines if x.get("event") == event]


def ref_of_line(line: dict[str, Any]) -> tuple[str, str, str]:
    """(kind, name, namespace) of a per-object log line."""
    return str(line.get("kind", "")), str(line.get("name", "")), str(line.get("namespace") or "")


class Env:
    """A seeded cluster plus helpers to start and observe the controller."""

    def __init__(self, cluster: Cluster, spec: PlatformSpec, audit: AuditLog | None = None
                 ) -> None:
        self.cluster = cluster
        self.spec = spec
        self.audit = audit
        self.controllers: list[Controller] = []

    @property
    def mode(self) -> str:
        """``kubesim`` or ``real``."""
        return self.cluster.mode

    def client(self) -> BenchClient:
        """An async client for the bench's own requests (its own User-Agent)."""
        return BenchClient(url=self.cluster.url, token=self.cluster.token, tls=self.cluster._tls)

    def start_controller(self, *args: str) -> tuple[Controller, float]:
        """Start ``autopilot run``; returns it and the wall-clock start time."""
        c = Controller(kubeconfig=self.cluster.kubeconfig, env=self.spec.env,
                       extra_args=["--log-level", "info", *args])
        started = time.time()
        c.start()
        self.controllers.append(c)
        return c, started

    def stop_controllers(self) -> None:
        """SIGTERM every controller this env started."""
        for c in self.controllers:
            c.stop()
        self.controllers.clear()

    # -- API request counts -------------------------------------------------------------

    @property
    def counted_by(self) -> str:
        """Where request counts come from."""
        return "kubesim (by User-Agent)" if self.audit is None else "audit log (by User-Agent)"

    def request_table(self) -> Counter[RequestKey]:
        """Every request of the controller so far, by (verb, resource, dry run)."""
        if self.cluster.sim is not None:
            return self.cluster.sim.controls.count_table(CONTROLLER_UA)
        assert self.audit is not None, "a real server is started with an audit log"
        return self.audit.table()

    def requests(self, *user_agents: str) -> list[LoggedRequest]:
        """Requests of these clients with the time the server received each: kubesim's
        request log, a real server's audit log."""
        if self.cluster.sim is not None:
            logged = self.cluster.sim.controls.requests()
            return [r for r in logged if r.user_agent.startswith(user_agents)]
        assert self.cluster.server is not None, "a real server is started with an audit log"
        return requests_in(self.cluster.server.audit_log, user_agents=user_agents)

    def requests_since(self, before: Counter[RequestKey]) -> Counter[RequestKey]:
        """The controller's requests since ``before`` (a :meth:`request_table`)."""
        return self.request_table() - before


def by_verb(table: Counter[RequestKey]) -> dict[str, int]:
    """Requests by verb, dry runs counted apart under ``dry-run``."""
    out: Counter[str] = Counter()
    for (verb, _, dry), n in table.items():
        out["dry-run" if dry else verb] += n
    return {k: v for k, v in sorted(out.items()) if v}


def by_resource(table: Counter[RequestKey]) -> dict[str, int]:
    """Requests by ``verb resource`` (``dry-run`` marked; discovery has no resource)."""
    out: Counter[str] = Counter()
    for (verb, resource, dry), n in table.items():
        out[f"{verb}{' (dry run)' if dry else ''} {resource or '(discovery)'}"] += n
    return dict(sorted(out.items()))


def writes_of(counts: dict[str, int]) -> int:
    """Write requests in a by-verb count (dry runs excluded)."""
    return sum(counts.get(v, 0) for v in ("create", "update", "patch", "delete",
                                            "deletecollection"))


def wait_all_applied(env: Env, controller: Controller, tail: LogTail, *,
                     timeout: float = 60.0) -> float:
    """Wait until every expected object was applied (or is reported in sync).

    Returns the wall-clock time of the last first-apply. Objects that needed no
    write (already in their Golden State) count once their compliance is 1.
    """
    expected = {(r.kind, r.name, r.namespace) for r in env.spec.expected_refs()}
    first: dict[tuple[str, str, str], float] = {}
    last_metrics = 0.0

    def probe() -> bool:
        nonlocal last_metrics
        controller._check_alive()
        for line in tail.poll():
            if line.get("event") == "successfully applied":
                first.setdefault(ref_of_line(line), log_time(line))
        missing = expected - set(first)
        if not missing:
            return True
        if time.monotonic() - last_metrics > 0.5:
            last_metrics = time.monotonic()
            synced = {
                (d.get("kind", ""), d.get("name", ""), d.get("namespace", ""))
                for ls, v in controller.series("virt_platform_compliance_status").items()
                if v == 1 for d in [dict(ls)]
            }
            if missing <= synced:
                return True
        return False

    eventually_sync(probe, timeout=timeout, interval=0.02,
                    what=f"all {len(expected)} expected objects applied")
    return max(first.values()) if first else time.time()


def wait_quiet(tail: LogTail, *, quiet: float = 2.0, timeout: float = 60.0) -> None:
    """Wait until the controller logged nothing about objects for ``quiet`` seconds."""
    last = time.monotonic()

    def probe() -> bool:
        nonlocal last
        if any(x.get("event") in ("successfully applied", "drift detected", "apply throttled")
               for x in tail.poll()):
            last = time.monotonic()
        return time.monotonic() - last >= quiet

    eventually_sync(probe, timeout=timeout, interval=0.1, what="controller quiet")


@contextmanager
def cluster_source() -> Iterator[Any]:
    """Yields ``new_env(spec) -> contextmanager[Env]``: a fresh, seeded API server each.

    kubesim in a thread by default; a real kube-apiserver + etcd when
    ``KUBEBUILDER_ASSETS`` provides them.
    """
    assets = real_assets()

    @contextmanager
    def fresh(spec: PlatformSpec) -> Iterator[Env]:
        source = kubesim_cluster() if assets is None else real_cluster(assets)
        with source as cluster:
            audit = None
            if cluster.server is not None:  # a real server writes every request to its audit log
                audit = AuditLog(cluster.server.audit_log, user_agent=CONTROLLER_UA)
            seed(cluster, spec)
            env = Env(cluster, spec, audit)
            try:
                yield env
            finally:
                env.stop_controllers()

    yield fresh
