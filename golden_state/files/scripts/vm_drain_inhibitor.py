#!/usr/bin/env python3
"""Shut the virtual machines of this node down cleanly before the node powers off.

A reboot or power-off of a worker kills every guest still running on it, as if its
power cord were pulled. This service gives the guests a clean shutdown instead:

1. at boot it takes a systemd-logind *delay* inhibitor lock for ``shutdown``
   (``systemd-inhibit --mode=delay``), so logind holds a shutdown or reboot for up to
   ``InhibitDelayMaxSec`` (150 s, a logind drop-in of the same MachineConfig) while
   the lock is held;
2. it waits for logind's ``PrepareForShutdown(true)`` signal on the system bus
   (``busctl monitor``), sent when a shutdown or reboot has been requested;
3. it lists the running virt-launcher ``compute`` containers (``crictl ps``) and their
   running libvirt domains (``crictl exec <container> virsh list``), and asks each
   domain to shut down (``virsh shutdown``: ACPI power button / guest agent), at most
   ``--parallel`` at a time;
4. it polls every ``--interval`` seconds (2) until no domain is left running, or
   ``--timeout`` seconds (120) after the signal, whichever comes first;
5. it releases the lock: logind goes on with the shutdown, and any guest still
   running is then stopped the hard way by the rest of the shutdown.

If the shutdown is cancelled (``PrepareForShutdown(false)``) it arms itself again.
Guests are never destroyed or paused, and nothing on disk is touched.

Every call to logind, D-Bus, ``crictl`` and ``virsh`` goes through :class:`Host`
(:class:`SystemHost` on a node), so the sequence is tested step by step without a
node. Standard library only; runs on the RHCOS python (3.9). ``--dry-run`` lists the
domains a shutdown would stop and returns without taking a lock. ``--root`` is
accepted for symmetry with the other node scripts; nothing here reads node files.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, Protocol

WHO = "vm-drain-shutdown-inhibitor"
WHY = "Shutting down virtual machines cleanly"
LOGIN1_MATCH = (
    "type='signal',sender='org.freedesktop.login1',"
    "interface='org.freedesktop.login1.Manager',member='PrepareForShutdown'"
)
COMMAND_TIMEOUT = 30.0
LAUNCHER_POD_PREFIX = "virt-launcher-"
# virsh inside virt-launcher: the default URI first, then the non-root (session) and
# root (system) daemons' sockets of the KubeVirt versions in the field.
VIRSH_URIS: tuple[str | None, ...] = (
    None,
    "qemu+unix:///session?socket=/var/run/libvirt/virtqemud-sock",
    "qemu+unix:///system?socket=/var/run/libvirt/libvirt-sock",
)

Domain = tuple[str, str]  # (container id, domain name)


class DrainError(Exception):
    """A real error: logind's signal stream could not be followed."""


def log(message: str) -> None:
    """Log one line to stdout (journald picks it up from the service)."""
    print(f"vm-drain-inhibitor: {message}", flush=True)


class Host(Protocol):
    """What the drain needs from the node; :class:`SystemHost` is the real one."""

    def inhibit(self) -> object:
        """Take the delay inhibitor lock; returns a handle for :meth:`release`."""

    def release(self, handle: object) -> None:
        """Release the lock taken by :meth:`inhibit`."""

    def next_prepare_for_shutdown(self) -> bool | None:
        """Block until logind's next PrepareForShutdown; its argument, None if the stream ended."""

    def launchers(self) -> list[str]:
        """Container ids of the running virt-launcher compute containers."""

    def running_domains(self, container: str) -> list[str]:
        """Names of the running libvirt domains in one container."""

    def shutdown(self, container: str, domain: str) -> bool:
        """Ask one domain to shut down (never destroy); True when virsh accepted it."""


def running(host: Host) -> list[Domain]:
    """Every running (container, domain) on the node."""
    return [(c, d) for c in host.launchers() for d in host.running_domains(c)]


def still_running(host: Host, targets: Sequence[Domain]) -> list[Domain]:
    """The targets whose domain is still running (a vanished container counts as stopped)."""
    by_container: dict[str, set[str]] = {}
    for container, _ in targets:
        if container not in by_container:
            by_container[container] = set(host.running_domains(container))
    return [(c, d) for c, d in targets if d in by_container[c]]


def describe(domains: Sequence[Domain]) -> str:
    """Short human list of domains."""
    names = [d for _, d in domains]
    shown = ", ".join(names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def drain(
    host: Host,
    *,
    timeout: float,
    interval: float,
    parallel: int,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Shut every running domain down and wait for them; True when all stopped in time."""
    deadline = clock() + timeout
    targets = running(host)
    if not targets:
        log("no running virtual machines on this node")
        return True
    log(f"asking {len(targets)} virtual machine(s) to shut down: {describe(targets)}")
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        accepted = list(pool.map(lambda t: host.shutdown(*t), targets))
    for index, ok in enumerate(accepted):
        if not ok:
            domain = targets[index][1]
            log(f"warning: virsh shutdown {domain} was not accepted")
    remaining = still_running(host, targets)
    while remaining and clock() < deadline:
        log(f"waiting for {len(remaining)} virtual machine(s): {describe(remaining)}")
        sleep(max(0.0, min(interval, deadline - clock())))
        remaining = still_running(host, remaining)
    if remaining:
        log(f"warning: {len(remaining)} virtual machine(s) still running after {timeout:g}s "
            f"({describe(remaining)}); letting the shutdown proceed")
        return False
    log("every virtual machine has shut down; the node may power off")
    return True


def serve(host: Host, *, timeout: float, interval: float, parallel: int,
          clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> None:
    """Hold the lock, drain on each PrepareForShutdown(true), re-arm when it is cancelled.

    Returns only when logind's signal stream ends (raises :class:`DrainError` then).
    """
    while True:
        handle = host.inhibit()
        try:
            signal_value = host.next_prepare_for_shutdown()
            while signal_value is False:
                signal_value = host.next_prepare_for_shutdown()
            if signal_value is None:
                raise DrainError("logind's PrepareForShutdown stream ended")
            log("shutdown requested")
            drain(host, timeout=timeout, interval=interval, parallel=parallel,
                  clock=clock, sleep=sleep)
        finally:
            host.release(handle)
        # Taking a new lock now would hold the shutdown that is going on: wait until it
        # is cancelled (or this service is stopped by it).
        signal_value = host.next_prepare_for_shutdown()
        while signal_value is True:
            signal_value = host.next_prepare_for_shutdown()
        if signal_value is None:
            raise DrainError("logind's PrepareForShutdown stream ended")
        log("shutdown cancelled; taking the inhibitor lock again")


def run_command(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT
                ) -> subprocess.CompletedProcess[str]:
    """Run a command with a timeout; a missing command or timeout is a failed result."""
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(list(argv), 127, "", str(exc))


class SystemHost:
    """The node: systemd-inhibit, busctl, crictl and virsh."""

    def __init__(self, run: Callable[[Sequence[str]], subprocess.CompletedProcess[str]]
                 = run_command) -> None:
        self._run = run
        self._monitor: subprocess.Popen[str] | None = None
        self._uris: dict[str, str | None] = {}

    def inhibit(self) -> object:
        """``systemd-inhibit --mode=delay`` around a ``sleep infinity`` we own."""
        self._stream()  # follow logind's signals before the lock makes them matter
        proc = subprocess.Popen(
            ["systemd-inhibit", "--what=shutdown", "--mode=delay", f"--who={WHO}",
             f"--why={WHY}", "sleep", "infinity"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        try:
            _, err = proc.communicate(timeout=1.0)
            log(f"warning: systemd-inhibit exited ({proc.returncode}): {(err or '').strip()}; "
                "shutdowns will not wait for the virtual machines")
        except subprocess.TimeoutExpired:
            log("holding a delay inhibitor lock for shutdown")
        return proc

    def release(self, handle: object) -> None:
        """End the systemd-inhibit session: the lock goes with it."""
        proc = handle if isinstance(handle, subprocess.Popen) else None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
        log("released the inhibitor lock")

    def _stream(self) -> IO[str]:
        if self._monitor is None:
            self._monitor = subprocess.Popen(
                ["busctl", "--system", "monitor", f"--match={LOGIN1_MATCH}", "--json=short"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
        assert self._monitor.stdout is not None
        return self._monitor.stdout

    def next_prepare_for_shutdown(self) -> bool | None:
        """Read busctl's JSON lines until a PrepareForShutdown signal."""
        for line in self._stream():
            value = prepare_for_shutdown_value(line)
            if value is not None:
                return value
        return None

    def launchers(self) -> list[str]:
        """``crictl ps`` for running compute containers of virt-launcher pods."""
        proc = self._run(["crictl", "ps", "--state", "Running", "--name", "^compute$",
                          "-o", "json"])
        if proc.returncode != 0:
            log(f"warning: crictl ps failed: {(proc.stderr or proc.stdout).strip()}")
            return []
        return launcher_containers(proc.stdout)

    def _virsh(self, container: str, *args: str, uri: str | None
               ) -> subprocess.CompletedProcess[str]:
        connect = ["-c", uri] if uri else []
        return self._run(["crictl", "exec", container, "virsh", *connect, *args])

    def running_domains(self, container: str) -> list[str]:
        """``virsh list --name --state-running`` inside the container."""
        uris = [self._uris[container]] if container in self._uris else list(VIRSH_URIS)
        for uri in uris:
            proc = self._virsh(container, "list", "--name", "--state-running", uri=uri)
            if proc.returncode == 0:
                self._uris[container] = uri
                return [name.strip() for name in proc.stdout.splitlines() if name.strip()]
        return []

    def shutdown(self, container: str, domain: str) -> bool:
        """``virsh shutdown <domain>`` inside the container."""
        proc = self._virsh(container, "shutdown", domain, uri=self._uris.get(container))
        return proc.returncode == 0


def prepare_for_shutdown_value(line: str) -> bool | None:
    """The boolean of a busctl JSON PrepareForShutdown signal line, else None."""
    try:
        message: Any = json.loads(line)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("member") != "PrepareForShutdown":
        return None
    data = (message.get("payload") or {}).get("data")
    if isinstance(data, list) and data and isinstance(data[0], bool):
        return data[0]
    return None


def launcher_containers(crictl_json: str) -> list[str]:
    """Ids of containers of virt-launcher pods in ``crictl ps -o json`` output."""
    try:
        listed = json.loads(crictl_json or "{}").get("containers") or []
    except (ValueError, AttributeError):
        log("warning: crictl ps printed something that is not its JSON")
        return []
    return [
        str(c["id"]) for c in listed
        if isinstance(c, dict) and c.get("id")
        and str((c.get("labels") or {}).get("io.kubernetes.pod.name", ""))
        .startswith(LAUNCHER_POD_PREFIX)
    ]


def main(argv: list[str] | None = None, host: Host | None = None) -> int:
    """Entry point: serve until stopped; exit 1 when logind's signals cannot be followed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/", help="accepted for symmetry; unused")
    parser.add_argument("--dry-run", action="store_true", help="list domains, take no lock")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait at most")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    parser.add_argument("--parallel", type=int, default=4, help="shutdowns at a time")
    args = parser.parse_args(argv)
    node = host or SystemHost()
    if args.dry_run:
        targets = running(node)
        if targets:
            log(f"a shutdown would ask these to shut down: {describe(targets)}")
        else:
            log("no running virtual machines; a shutdown would not wait")
        return 0
    try:
        serve(node, timeout=args.timeout, interval=args.interval, parallel=args.parallel)
    except DrainError as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
