"""vm_drain_inhibitor.py step by step, through its Host seam, with a fake clock."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Sequence

import pytest

from tests.support.node_scripts import load_script

script = load_script("vm_drain_inhibitor")


class FakeClock:
    """Time moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeHost:
    """A node with virt-launcher containers; records every step in ``events``."""

    def __init__(self, domains: dict[str, list[str]], *, signals: Sequence[bool | None] = (),
                 stops_after_polls: int = 0, clock: FakeClock | None = None) -> None:
        self.domains = {c: list(d) for c, d in domains.items()}
        self.signals = list(signals)
        self.events: list[str] = []
        self.shutdown_requested: set[str] = set()
        self.polls_left = stops_after_polls
        self.clock = clock
        self.locks = 0

    def inhibit(self) -> object:
        self.locks += 1
        self.events.append("inhibit")
        return f"lock-{self.locks}"

    def release(self, handle: object) -> None:
        at = f"@{self.clock.now:g}" if self.clock else ""
        self.events.append(f"release {handle}{at}")

    def next_prepare_for_shutdown(self) -> bool | None:
        value = self.signals.pop(0) if self.signals else None
        self.events.append(f"signal {value}")
        return value

    def launchers(self) -> list[str]:
        self.events.append("launchers")
        return sorted(self.domains)

    def running_domains(self, container: str) -> list[str]:
        if self.shutdown_requested and self.polls_left > 0:
            self.polls_left -= 1
        elif self.shutdown_requested and self.polls_left == 0:
            self.domains[container] = [
                d for d in self.domains[container] if d not in self.shutdown_requested]
        return list(self.domains.get(container, []))

    def shutdown(self, container: str, domain: str) -> bool:
        self.events.append(f"shutdown {container}/{domain}")
        self.shutdown_requested.add(domain)
        return True


def serve(host: FakeHost, clock: FakeClock, **kw: float) -> None:
    opts = {"timeout": 120.0, "interval": 2.0, "parallel": 4, **kw}
    with pytest.raises(script.DrainError, match="stream ended"):
        script.serve(host, clock=clock.clock, sleep=clock.sleep, **opts)  # type: ignore[arg-type]


def test_the_whole_sequence() -> None:
    """inhibit -> PrepareForShutdown -> shut every domain down -> wait -> release."""
    clock = FakeClock()
    host = FakeHost({"c1": ["ns1_vm1", "ns1_vm2"], "c2": ["ns2_vm3"]},
                    signals=[True], stops_after_polls=2, clock=clock)
    serve(host, clock)
    assert host.events[:3] == ["inhibit", "signal True", "launchers"]
    assert sorted(host.events[3:6]) == [
        "shutdown c1/ns1_vm1", "shutdown c1/ns1_vm2", "shutdown c2/ns2_vm3"]
    assert host.events[6] == "release lock-1@2"  # after one 2 s poll
    assert host.events[7:] == ["signal None"]
    assert clock.sleeps == [2.0]


def test_waits_at_most_the_timeout_then_releases(capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    host = FakeHost({"c1": ["ns_stuck"]}, signals=[True], stops_after_polls=10**6, clock=clock)
    serve(host, clock)
    assert "release lock-1@120" in host.events
    assert sum(clock.sleeps) == 120 and all(s <= 2.0 for s in clock.sleeps)
    assert "still running after 120s (ns_stuck)" in capsys.readouterr().out


def test_the_timeout_counts_from_the_signal() -> None:
    clock = FakeClock()
    host = FakeHost({"c1": ["a"]}, signals=[True], stops_after_polls=10**6, clock=clock)
    real_shutdown = host.shutdown

    def slow_shutdown(container: str, domain: str) -> bool:
        clock.now += 30  # virsh took its time
        return real_shutdown(container, domain)

    host.shutdown = slow_shutdown  # type: ignore[method-assign]
    serve(host, clock)
    assert "release lock-1@120" in host.events


def test_no_virtual_machines_releases_at_once() -> None:
    clock = FakeClock()
    host = FakeHost({}, signals=[True], clock=clock)
    serve(host, clock)
    assert host.events == ["inhibit", "signal True", "launchers", "release lock-1@0",
                           "signal None"]


def test_cancelled_shutdown_rearms_only_after_the_cancel() -> None:
    clock = FakeClock()
    host = FakeHost({"c1": ["vm"]}, signals=[False, True, True, False, True],
                    stops_after_polls=0, clock=clock)
    serve(host, clock)
    events = [e for e in host.events if not e.startswith("shutdown")]
    assert events == [
        "inhibit", "signal False", "signal True", "launchers", "release lock-1@0",
        # a repeated True while the shutdown goes on must not take a new lock
        "signal True", "signal False",
        "inhibit", "signal True", "launchers", "release lock-2@0", "signal None",
    ]


def test_release_happens_even_when_the_drain_fails() -> None:
    clock = FakeClock()
    host = FakeHost({"c1": ["vm"]}, signals=[True], clock=clock)

    def broken() -> list[str]:
        raise RuntimeError("crictl exploded")

    host.launchers = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        script.serve(host, timeout=120, interval=2, parallel=4, clock=clock.clock,
                     sleep=clock.sleep)
    assert host.events[-1] == "release lock-1@0"


def test_parallel_shutdowns_are_bounded() -> None:
    """With 6 domains and parallel=2, two virsh shutdowns run at once, never three."""
    host = FakeHost({"c1": [f"vm{i}" for i in range(6)]})
    gate, full = threading.Event(), threading.Event()
    lock = threading.Lock()
    active, peak = [0], [0]

    def blocking_shutdown(container: str, domain: str) -> bool:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            if active[0] == 2:
                full.set()
        assert gate.wait(timeout=10)
        with lock:
            active[0] -= 1
        host.shutdown_requested.add(domain)
        return True

    host.shutdown = blocking_shutdown  # type: ignore[method-assign]
    clock = FakeClock()
    worker = threading.Thread(target=script.drain, args=(host,), kwargs={
        "timeout": 120, "interval": 2, "parallel": 2, "clock": clock.clock,
        "sleep": clock.sleep})
    worker.start()
    assert full.wait(timeout=10)
    with lock:
        assert active[0] == 2
    gate.set()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert peak[0] == 2
    assert host.shutdown_requested == {f"vm{i}" for i in range(6)}


def test_dry_run_lists_and_takes_no_lock(capsys: pytest.CaptureFixture[str]) -> None:
    host = FakeHost({"c1": ["ns_vm"]})
    assert script.main(["--dry-run"], host=host) == 0
    assert "inhibit" not in host.events and not host.shutdown_requested
    assert "would ask these to shut down: ns_vm" in capsys.readouterr().out


def test_main_exits_1_when_logind_signals_end(capsys: pytest.CaptureFixture[str]) -> None:
    host = FakeHost({}, signals=[])
    assert script.main([], host=host) == 1
    assert host.events == ["inhibit", "signal None", "release lock-1"]
    assert "error: logind's PrepareForShutdown stream ended" in capsys.readouterr().out


# -- the real host's parsing and commands, with subprocess replaced --------------------


@pytest.mark.parametrize(
    ("line", "value"),
    [
        (json.dumps({"type": "signal", "member": "PrepareForShutdown",
                     "payload": {"type": "b", "data": [True]}}), True),
        (json.dumps({"type": "signal", "member": "PrepareForShutdown",
                     "payload": {"type": "b", "data": [False]}}), False),
        (json.dumps({"type": "signal", "member": "PrepareForSleep",
                     "payload": {"type": "b", "data": [True]}}), None),
        ("Monitoring bus message stream.", None),
    ],
)
def test_busctl_lines(line: str, value: bool | None) -> None:
    assert script.prepare_for_shutdown_value(line) is value


CRICTL_PS = json.dumps({"containers": [
    {"id": "aaa", "labels": {"io.kubernetes.pod.name": "virt-launcher-vm1-x7k2p",
                             "io.kubernetes.container.name": "compute"}},
    {"id": "bbb", "labels": {"io.kubernetes.pod.name": "my-app-compute",
                             "io.kubernetes.container.name": "compute"}},
]})


class Commands:
    """Stands in for subprocess: answers by argv, records every call."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str]]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        rc, out = self.answers.get(tuple(argv), (1, ""))
        return subprocess.CompletedProcess(list(argv), rc, out, "")


def test_system_host_finds_launchers_domains_and_shuts_them_down() -> None:
    session = "qemu+unix:///session?socket=/var/run/libvirt/virtqemud-sock"
    run = Commands({
        ("crictl", "ps", "--state", "Running", "--name", "^compute$", "-o", "json"):
            (0, CRICTL_PS),
        ("crictl", "exec", "aaa", "virsh", "-c", session, "list", "--name",
         "--state-running"): (0, "default_vm1\n\n"),
        ("crictl", "exec", "aaa", "virsh", "-c", session, "shutdown", "default_vm1"):
            (0, "Domain 'default_vm1' is being shutdown\n"),
    })
    host = script.SystemHost(run)
    assert host.launchers() == ["aaa"]
    assert host.running_domains("aaa") == ["default_vm1"]  # default URI failed, session ok
    assert host.shutdown("aaa", "default_vm1") is True
    assert run.calls[-1] == ["crictl", "exec", "aaa", "virsh", "-c", session, "shutdown",
                             "default_vm1"]
    assert not any("destroy" in call for call in run.calls)


def test_system_host_without_crictl() -> None:
    host = script.SystemHost(Commands({}))
    assert host.launchers() == []
