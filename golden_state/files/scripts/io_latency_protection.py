#!/usr/bin/env python3
"""Protect the IO latency of the node's own services on the disks behind root and swap.

When guests and pods push memory to swap, the swap IO competes with the node's own
services (kubelet, CRI-O, journald, sshd) on the same disks. systemd's
``IODeviceLatencyTargetSec=`` (cgroup v2 blk-iolatency) lets a slice claim a latency
target per device: when its IO is slower than the target, the kernel throttles the
siblings with looser targets until it recovers.

The script finds the physical disks behind the root filesystem (``/`` and
``/sysroot``), ``/var`` and every swap partition: from ``/proc/self/mountinfo`` and
``/proc/swaps`` to the block device, then through device-mapper and md ``slaves``
(LUKS, LVM, multipath, RAID) and from partitions to their disk. It writes runtime
drop-ins (under ``/run``, so they vanish with the boot that measured the disks) and
runs ``systemctl daemon-reload``:

* ``/run/systemd/system/system.slice.d/90-io-latency.conf``:
  ``IODeviceLatencyTargetSec=/dev/<disk> 5ms`` per disk;
* ``/run/systemd/system/kubepods.slice.d/90-io-latency.conf``: the same disks at 50ms.

Swap files live on one of those filesystems and are covered by them. Nothing is
written to a device or to a cgroup file directly; only the two drop-ins change. On
cgroup v1, or when no disk is found, there is nothing to do and the script exits 0.

Standard library only; runs on the RHCOS python (3.9). Node paths are resolved under
``--root``; ``systemctl`` is looked up on PATH. ``--dry-run`` prints the drop-ins and
writes nothing. Running it twice changes nothing the second time (no daemon-reload
either). Exit 1 only when a drop-in cannot be written or daemon-reload fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Sequence

MOUNT_POINTS = ("/", "/sysroot", "/var")
TARGETS = (("system.slice", "5ms"), ("kubepods.slice", "50ms"))
DROPIN_DIR = "/run/systemd/system"
DROPIN_NAME = "90-io-latency.conf"
SKIPPED_PREFIXES = ("loop", "ram", "zram", "nbd", "sr", "fd")
COMMAND_TIMEOUT = 60

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class ProtectionError(Exception):
    """A real error: the drop-ins could not be put in place."""


def log(message: str) -> None:
    """Log one line to stdout (journald picks it up from the service)."""
    print(f"io-latency-protection: {message}", flush=True)


def under_root(root: str, path: str) -> str:
    """Resolve an absolute node path under ``root``."""
    return os.path.join(root, path.lstrip("/"))


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a command with a timeout; its output is returned, never raised."""
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )


def read_text(path: str) -> str | None:
    """A small kernel file, or None."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def block_names_by_devno(root: str) -> dict[str, str]:
    """MAJ:MIN -> kernel name for every block device in /sys/class/block."""
    base = under_root(root, "/sys/class/block")
    found: dict[str, str] = {}
    for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        devno = (read_text(os.path.join(base, name, "dev")) or "").strip()
        if devno:
            found[devno] = name
    return found


def mounted_devices(root: str, devnos: dict[str, str]) -> list[str]:
    """Kernel names of the block devices mounted at root, /sysroot and /var."""
    text = read_text(under_root(root, "/proc/self/mountinfo")) or ""
    names = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] in MOUNT_POINTS and fields[2] in devnos:
            names.append(devnos[fields[2]])
    return names


def swap_partitions(root: str) -> list[str]:
    """Kernel names of the active swap partitions (swap files ride on their filesystem)."""
    text = read_text(under_root(root, "/proc/swaps")) or ""
    names = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 2 and fields[1] == "partition":
            real = os.path.realpath(under_root(root, fields[0]))
            names.append(os.path.basename(real))
    return names


def physical_disks(root: str, name: str, seen: set[str] | None = None) -> set[str]:
    """The whole disks under one block device: through slaves, from partitions to disks."""
    seen = set() if seen is None else seen
    if name in seen:
        return set()
    seen.add(name)
    node = under_root(root, f"/sys/class/block/{name}")
    slaves_dir = os.path.join(node, "slaves")
    slaves = sorted(os.listdir(slaves_dir)) if os.path.isdir(slaves_dir) else []
    if slaves:
        disks: set[str] = set()
        for slave in slaves:
            disks |= physical_disks(root, slave, seen)
        return disks
    if os.path.exists(os.path.join(node, "partition")):
        block = under_root(root, "/sys/block")
        for disk in sorted(os.listdir(block)) if os.path.isdir(block) else []:
            if os.path.isdir(os.path.join(block, disk, name)):
                return physical_disks(root, disk, seen)
        return set()
    if name.startswith(SKIPPED_PREFIXES) or not os.path.isdir(
        under_root(root, f"/sys/block/{name}")
    ):
        return set()
    return {name}


def protected_disks(root: str) -> list[str]:
    """Sorted whole disks behind root, /sysroot, /var and the swap partitions."""
    devnos = block_names_by_devno(root)
    disks: set[str] = set()
    for name in mounted_devices(root, devnos) + swap_partitions(root):
        disks |= physical_disks(root, name)
    return sorted(disks)


def dropin_text(disks: Sequence[str], target: str) -> str:
    """The drop-in for one slice."""
    lines = ["# Written at boot by io_latency_protection.py: the disks behind root and swap.",
             "[Slice]"]
    lines += [f"IODeviceLatencyTargetSec=/dev/{disk} {target}" for disk in disks]
    return "\n".join(lines) + "\n"


def write_atomically(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` (temp file + rename)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def run(*, root: str, dry_run: bool, runner: Runner | None = None) -> int:
    """Write the drop-ins when they change; return the number of drop-ins changed."""
    if not os.path.isfile(under_root(root, "/sys/fs/cgroup/cgroup.controllers")):
        log("cgroup v2 is not mounted; IO latency targets need it; nothing to do")
        return 0
    disks = protected_disks(root)
    if not disks:
        log("no disk found behind root or swap; nothing to do")
        return 0
    log(f"disks behind root and swap: {', '.join(disks)}")
    changed = 0
    for slice_name, target in TARGETS:
        path = under_root(root, f"{DROPIN_DIR}/{slice_name}.d/{DROPIN_NAME}")
        text = dropin_text(disks, target)
        if read_text(path) == text:
            log(f"{slice_name}: latency target {target} already in place")
            continue
        if dry_run:
            log(f"would write {slice_name} latency target {target} for {', '.join(disks)}")
        else:
            try:
                write_atomically(path, text)
            except OSError as exc:
                raise ProtectionError(f"cannot write {path}: {exc}") from exc
            log(f"{slice_name}: latency target {target} for {', '.join(disks)}")
        changed += 1
    if changed and not dry_run:
        proc = (runner or run_command)(["systemctl", "daemon-reload"])
        if proc.returncode != 0:
            raise ProtectionError(f"systemctl daemon-reload failed: {proc.stderr.strip()}")
    return changed


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit 1 only on a real error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/", help="resolve node paths under this directory")
    parser.add_argument("--dry-run", action="store_true", help="print changes, write nothing")
    args = parser.parse_args(argv)
    try:
        changes = run(root=args.root, dry_run=args.dry_run)
    except (ProtectionError, OSError, subprocess.SubprocessError) as exc:
        log(f"error: {exc}")
        return 1
    log(f"done ({changes} change(s){' planned' if args.dry_run else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
