"""Chaos helpers: a fault injector driving the fault controls and a meddling client.

Both run in daemon threads while a test watches the controller; both keep a
log of what they did so the test (and RELIABILITY.md) can say what was tried.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubesim.controls import Controls
from tests.support.controller import Controller
from tests.support.platform import Platform

PROJECT = Path(__file__).resolve().parents[2]

PAUSED = "platform.kubevirt.io/reconcile-paused"
# How watch streams are ended, in turn, and how often (seconds).
DROPS = ("compact", "silence", "drop")
DROP_EVERY_S = (4.0, 10.0)
LATENCY = "latency spike"
PAUSED_EDIT = "edit of the paused object"
# What FaultInjector.tried counts, one key per kind of fault.
FAULT_KINDS = ("error rate 10% (500/503/429)", "watch compact, then drop",
               "watch silence, then drop", "watch drop", LATENCY)


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc (KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def compliance(c: Controller) -> dict[tuple[str, str, str], float]:
    """virt_platform_compliance_status as {(kind, name, namespace): value}."""
    out = {}
    for labels, value in c.series("virt_platform_compliance_status").items():
        d = dict(labels)
        out[(d.get("kind", ""), d.get("name", ""), d.get("namespace", ""))] = value
    return out


def resync_task_counts(c: Controller) -> list[int]:
    """Task counts the controller logged on each resync, oldest first."""
    return [int(line["tasks"]) for line in c.log_lines("resync") if "tasks" in line]


def get_pointer(obj: Any, pointer: str) -> Any:
    """Value at an RFC 6901 pointer, or None."""
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
    return obj


def merge_patch_for(pointer: str, value: Any) -> dict[str, Any]:
    """A JSON merge patch setting ``pointer`` (object keys only) to ``value``."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
    body: Any = value
    for part in reversed(parts):
        body = {part: body}
    return dict(body)


@dataclass(frozen=True)
class Target:
    """One managed object a meddler edits: a field the golden state owns."""

    path: str
    pointer: str
    golden: Any
    meddled: tuple[Any, ...]  # values the meddler writes (schema-valid)
    deletable: bool = False


class InThread:
    """Runs ``self._run`` on a daemon thread between ``__enter__`` and ``__exit__``.

    Subclasses (dataclasses) declare ``_stop: threading.Event`` and
    ``_thread: threading.Thread | None`` and stop ``_run`` when ``_stop`` is set.
    """

    _stop: threading.Event
    _thread: threading.Thread | None

    def _run(self) -> None:
        raise NotImplementedError

    def _start(self, name: str) -> None:
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _halt(self, *, must_stop: bool = False) -> None:
        """Stop the thread, waiting up to 10 s (a client call may still be hanging).

        With ``must_stop``, a thread still running after that fails the test.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            assert not (must_stop and self._thread.is_alive()), (
                f"thread {self._thread.name} did not stop")


@dataclass
class FaultInjector(InThread):
    """Random faults on the API server (kubesim, or the proxy before a real one) until stopped.

    Every request fails with ~10 % probability (500, 503 and 429 with
    Retry-After); watch streams drop every 4-10 s, in turn after a compaction (so
    the reconnect gets 410), after going silent, and plainly; latency spikes come
    and go, the first one at once; with ``hangs`` a few requests never answer at all.
    The drops take turns (rather than being drawn) so that any run of 50 s or more
    has tried each at least once, however slow the machine.
    """

    controls: Controls
    seed: int = 14
    hangs: bool = False
    tried: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _base_errors(self) -> None:
        c = self.controls
        c.inject_errors(status=500, rate=0.035)
        c.inject_errors(status=503, rate=0.035, retry_after=1)
        c.inject_errors(status=429, rate=0.03, retry_after=1)
        if self.hangs:
            c.inject_errors(status=504, rate=0.005, hang=True)

    def _run(self) -> None:
        rnd = random.Random(self.seed)
        c = self.controls
        self._base_errors()
        self.tried["error rate 10% (500/503/429)"] += 1
        next_drop = time.monotonic() + rnd.uniform(*DROP_EVERY_S)
        turns = 0
        while not self._stop.wait(rnd.uniform(0.5, 1.5)):
            if time.monotonic() >= next_drop:
                how = DROPS[turns % len(DROPS)]
                turns += 1
                if how == "silence":
                    c.silence_watches(True)
                    if self._stop.wait(rnd.uniform(1, 4)):
                        break
                    c.silence_watches(False)
                elif how == "compact":
                    c.compact()
                c.drop_watches()
                self.tried["watch drop" if how == "drop" else f"watch {how}, then drop"] += 1
                next_drop = time.monotonic() + rnd.uniform(*DROP_EVERY_S)
            if rnd.random() < 0.15 or not self.tried[LATENCY]:
                c.set_latency(rnd.uniform(0.2, 1.0))
                self.tried[LATENCY] += 1
                if self._stop.wait(rnd.uniform(0.5, 2.0)):
                    break
                c.clear_latency()

    def __enter__(self) -> FaultInjector:
        self._start("faults")
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt()
        c = self.controls
        c.clear_errors()
        c.clear_latency()
        c.silence_watches(False)
        c.drop_watches()  # streams silenced mid-way must not linger until the watchdog


@dataclass
class Meddler(InThread):
    """Another client editing (and sometimes deleting) managed objects at random."""

    platform: Platform
    targets: list[Target]
    paused_path: str | None = None
    seed: int = 2
    interval: tuple[float, float] = (0.8, 2.0)
    edits: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        rnd = random.Random(self.seed)
        paused = [t for t in self.targets if t.path == self.paused_path]
        while not self._stop.wait(rnd.uniform(*self.interval)):
            # The paused object is edited first (until an edit lands), then at random.
            t = paused[0] if paused and not self.edits[PAUSED_EDIT] else rnd.choice(
                self.targets)
            # The platform's own client sees the injected faults too: failures are fine.
            with contextlib.suppress(AssertionError, OSError):
                if t.deletable and rnd.random() < 0.3:
                    self.platform.cluster.api("DELETE", t.path)
                    self.edits["delete"] += 1
                else:
                    value = rnd.choice(t.meddled)
                    self.platform.patch(t.path, merge_patch_for(t.pointer, value))
                    # Edits of the paused object are no owner flip: counted apart.
                    self.edits[PAUSED_EDIT if t.path == self.paused_path else "edit"] += 1

    def __enter__(self) -> Meddler:
        self._start("meddler")
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt()


@dataclass
class HealthSampler(InThread):
    """Asks the controller's ``/healthz`` about once a second until stopped.

    Every answer is kept (status and body), so a test can assert the liveness
    probe held *during* the chaos, not only once it is over. A probe that cannot
    connect at all is recorded as status 0.
    """

    controller: Controller
    interval: float = 1.0
    samples: list[tuple[int, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        while True:
            self.samples.append(self.controller.http(self.controller.health_port, "/healthz"))
            if self._stop.wait(self.interval):
                return

    def failures(self) -> list[tuple[int, str]]:
        """The samples that were not 200."""
        return [s for s in self.samples if s[0] != 200]

    def longest_failure_run(self) -> int:
        """The most samples in a row that were not 200 (the kubelet restarts a
        container only after its liveness probe's ``failureThreshold`` of them)."""
        longest = run = 0
        for status, _ in self.samples:
            run = run + 1 if status != 200 else 0
            longest = max(longest, run)
        return longest

    def __enter__(self) -> HealthSampler:
        self._start("healthz")
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt(must_stop=True)


def liveness_probe() -> dict[str, Any]:
    """The controller container's liveness probe, as the shipped Deployment declares it."""
    docs = yaml.safe_load_all((PROJECT / "manifests" / "deployment.yaml").read_text())
    deployment = next(d for d in docs if d and d.get("kind") == "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    probe: dict[str, Any] = container["livenessProbe"]
    return probe


def targets_from(live: dict[str, dict[str, Any]]) -> list[Target]:
    """Edit targets among the objects the controller applied, by kind."""
    out: list[Target] = []
    for path, obj in live.items():
        kind = obj["kind"]
        if kind == "Service":
            pointer, meddled = "/spec/selector/app", ("chaos-a", "chaos-b")
        elif kind == "ServiceMonitor":
            pointer, meddled = "/metadata/labels/app", ("chaos-a", "chaos-b")
        elif kind == "PrometheusRule":
            pointer, meddled = "/metadata/labels/role", ("chaos-a", "chaos-b")
        elif kind == "UIPlugin":
            # Dropping the ownership label takes it out of the label-selected cache.
            pointer, meddled = "/metadata/labels/platform.kubevirt.io~1managed-by", (None,)
        elif kind == "KubeDescheduler":
            pointer, meddled = "/spec/mode", ("Predictive",)
        elif kind == "PersesDashboard":
            pointer, meddled = "/spec/config/display/name", ("chaos-a", "chaos-b")
        elif kind == "MachineConfig":
            pointer, meddled = "/metadata/labels/machineconfiguration.openshift.io~1role", (
                "chaos-a", "chaos-b")
        elif kind == "HyperConverged":
            pointer = "/metadata/annotations/platform.kubevirt.io~1golden-state-version"
            meddled = ("chaos-a", "chaos-b")
        else:
            continue
        out.append(Target(path=path, pointer=pointer, golden=get_pointer(obj, pointer),
                          meddled=meddled, deletable=kind in ("MachineConfig", "Service")))
    return out


__all__ = ["FAULT_KINDS", "PAUSED", "PAUSED_EDIT", "FaultInjector", "HealthSampler", "Meddler",
           "Target", "compliance", "get_pointer", "merge_patch_for", "resync_task_counts",
           "rss_kib", "targets_from"]
