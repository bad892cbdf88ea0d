#!/usr/bin/env python3
"""Hold node shutdown until the virtual machines on it are gone.

How it fits together (all shipped in the same MachineConfig):

* a logind drop-in raises ``InhibitDelayMaxSec`` to 150 s, so delay inhibitors
  (the kubelet's graceful node shutdown among them) may hold a shutdown that long;
* ``vm-drain-shutdown-inhibitor.service`` is a oneshot that "starts" at boot
  (``RemainAfterExit=yes``) and runs this script as its ``ExecStop``. It is
  ordered ``After=kubelet.service crio.service``, and systemd stops units in the
  reverse order, so at shutdown this script runs while the kubelet and CRI-O are
  still up and can finish migrating or stopping the VMs (the drain);
* the script polls ``/proc`` every 2 s and returns as soon as no VM process is
  left, or after 120 s (the service's ``TimeoutStopSec`` is 150 s, matching the
  logind ceiling). A timeout is logged as a warning, not an error: shutdown must
  go on in the end.

A VM process is one whose ``comm`` or ``argv[0]`` basename is ``qemu-kvm``,
``qemu-system-*``, ``virt-launcher`` or ``virt-launcher-monitor``.

Standard library only; runs on the RHCOS python (3.9). ``/proc`` is resolved
under ``--root``. ``--dry-run`` lists the VM processes it would wait for and
returns at once. The script never writes anything, so it is trivially idempotent.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

VM_NAMES = ("qemu-kvm", "virt-launcher", "virt-launcher-monitor")
VM_PREFIXES = ("qemu-system-",)


class DrainError(Exception):
    """A real error: /proc cannot be read."""


def log(message: str) -> None:
    """Log one line to stdout (journald picks it up from the service)."""
    print(f"vm-drain-inhibitor: {message}", flush=True)


def is_vm_name(name: str) -> bool:
    """True for the process names that mean a VM is still on this node."""
    base = os.path.basename(name)
    return base in VM_NAMES or base.startswith(VM_PREFIXES)


def read_process(proc_dir: str) -> tuple[str, str]:
    """(comm, argv[0]) of one process; empty strings when it vanished meanwhile."""
    try:
        with open(os.path.join(proc_dir, "comm"), encoding="utf-8", errors="replace") as h:
            comm = h.read().strip()
        with open(os.path.join(proc_dir, "cmdline"), "rb") as hb:
            argv0 = hb.read().split(b"\0", 1)[0].decode("utf-8", errors="replace")
    except OSError:
        return "", ""
    return comm, argv0


def vm_processes(root: str) -> list[tuple[int, str]]:
    """(pid, name) of every VM process, sorted by pid."""
    proc = os.path.join(root, "proc")
    try:
        entries = os.listdir(proc)
    except OSError as exc:
        raise DrainError(f"cannot list {proc}: {exc}") from exc
    found = []
    for entry in entries:
        if not entry.isdigit():
            continue
        comm, argv0 = read_process(os.path.join(proc, entry))
        for name in (comm, argv0):
            if name and is_vm_name(name):
                found.append((int(entry), os.path.basename(name)))
                break
    return sorted(found)


def describe(processes: list[tuple[int, str]]) -> str:
    """Short human list of VM processes."""
    shown = ", ".join(f"{name}[{pid}]" for pid, name in processes[:10])
    more = len(processes) - 10
    return shown + (f" and {more} more" if more > 0 else "")


def wait_for_drain(
    *,
    root: str,
    timeout: float,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Poll until no VM process is left; True when drained, False on timeout."""
    deadline = clock() + timeout
    while True:
        remaining = vm_processes(root)
        if not remaining:
            log("no virtual machines left on this node; shutdown may proceed")
            return True
        if clock() >= deadline:
            log(
                f"warning: {len(remaining)} VM process(es) still running after {timeout:g}s "
                f"({describe(remaining)}); letting shutdown proceed"
            )
            return False
        log(f"waiting for {len(remaining)} VM process(es): {describe(remaining)}")
        sleep(interval)


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit 1 only on a real error (a timeout is not one)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/", help="resolve /proc under this directory")
    parser.add_argument("--dry-run", action="store_true", help="list VMs, do not wait")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait at most")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    args = parser.parse_args(argv)
    try:
        if args.dry_run:
            remaining = vm_processes(args.root)
            if remaining:
                log(f"would wait up to {args.timeout:g}s for: {describe(remaining)}")
            else:
                log("no virtual machines running; would not wait")
            return 0
        wait_for_drain(root=args.root, timeout=args.timeout, interval=args.interval)
    except DrainError as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
