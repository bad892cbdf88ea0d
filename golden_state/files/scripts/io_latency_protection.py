#!/usr/bin/env python3
"""Protect the IO latency of system slices on a node that swaps (cgroup v2).

When guests and pods push memory to swap, the swap IO competes with the node's
own services (kubelet, CRI-O, journald, sshd) on the same disks. blk-iolatency
lets a cgroup claim a latency target per device: when its IO is slower than the
target, the kernel throttles its siblings (kubepods) until it recovers.

For every protected slice (``system.slice`` by default) and every physical disk
(``/sys/block/*`` except loop, ram, zram, optical, network block, device-mapper
and md devices, and empty devices) the script sets ``io.latency``:

* non-rotational disks (SSD, NVMe): target 5 ms
* rotational disks: target 50 ms

Kernels without blk-iolatency (no ``io.latency`` file) fall back to raising the
slice's ``io.weight`` default to at least 500 (never lowering a higher weight set
by systemd ``IOWeight=``). On cgroup v1, or when the io controller is not
enabled for the slice, there is nothing to do and the script exits 0.

Standard library only; runs on the RHCOS python (3.9). Every path is resolved
under ``--root``. ``--dry-run`` prints what would change and writes nothing.
Running it twice changes nothing the second time.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

SSD_TARGET_US = 5000
HDD_TARGET_US = 50000
MIN_WEIGHT = 500
SKIPPED_PREFIXES = ("loop", "ram", "zram", "sr", "fd", "nbd", "dm-", "md")
FATAL_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)


class ProtectionError(Exception):
    """A real error: the node cannot be read or written as expected."""


def log(message: str) -> None:
    """Log one line to stdout (journald picks it up from the service)."""
    print(f"io-latency-protection: {message}", flush=True)


def under_root(root: str, path: str) -> str:
    """Resolve an absolute node path under ``root``."""
    return os.path.join(root, path.lstrip("/"))


def read_text(path: str) -> str:
    """Read a small kernel file."""
    with open(path, encoding="ascii") as handle:
        return handle.read()


def write_control(path: str, value: str) -> None:
    """Write one value to a kernel control file (one device per write for io.latency)."""
    with open(path, "w", encoding="ascii") as handle:
        handle.write(value + "\n")


def physical_disks(root: str) -> list[tuple[str, str, bool]]:
    """Return (name, "MAJ:MIN", rotational) for every disk worth protecting, sorted by name."""
    block = under_root(root, "/sys/block")
    if not os.path.isdir(block):
        return []
    disks = []
    for name in sorted(os.listdir(block)):
        if name.startswith(SKIPPED_PREFIXES):
            continue
        base = os.path.join(block, name)
        try:
            devno = read_text(os.path.join(base, "dev")).strip()
            size = int(read_text(os.path.join(base, "size")).strip() or "0")
        except (OSError, ValueError):
            continue
        if size == 0 or ":" not in devno:
            continue
        try:
            rotational = read_text(os.path.join(base, "queue", "rotational")).strip() == "1"
        except OSError:
            rotational = True
        disks.append((name, devno, rotational))
    return disks


def current_latency_targets(text: str) -> dict[str, int]:
    """Parse io.latency ("8:0 target=5000" per line) into devno -> target in µs."""
    targets: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        for field in fields[1:]:
            key, _, value = field.partition("=")
            if key == "target" and value.isdigit():
                targets[fields[0]] = int(value)
    return targets


def current_default_weight(text: str) -> int | None:
    """Parse the "default N" line of io.weight."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == "default" and fields[1].isdigit():
            return int(fields[1])
    return None


def write_or_fail(path: str, value: str, *, what: str) -> bool:
    """Write, turning permission problems into errors and kernel refusals into warnings."""
    try:
        write_control(path, value)
    except OSError as exc:
        if exc.errno in FATAL_ERRNOS:
            raise ProtectionError(f"cannot write {path}: {exc}") from exc
        log(f"warning: kernel refused {what} ({value!r} -> {path}): {exc}")
        return False
    return True


def protect_latency(*, slice_dir: str, slice_name: str, root: str, dry_run: bool) -> int:
    """Set io.latency targets for one slice; return the number of changes."""
    path = os.path.join(slice_dir, "io.latency")
    try:
        current = current_latency_targets(read_text(path))
    except OSError as exc:
        raise ProtectionError(f"cannot read {path}: {exc}") from exc
    changes = 0
    for name, devno, rotational in physical_disks(root):
        target = HDD_TARGET_US if rotational else SSD_TARGET_US
        if current.get(devno) == target:
            log(f"{slice_name} {name} ({devno}) io.latency target={target} already set")
            continue
        if dry_run:
            log(f"would set {slice_name} {name} ({devno}) io.latency target={target}")
            changes += 1
            continue
        value = f"{devno} target={target}"
        if write_or_fail(path, value, what=f"io.latency for {name}"):
            log(f"set {slice_name} {name} ({devno}) io.latency target={target}")
            changes += 1
    return changes


def protect_weight(*, slice_dir: str, slice_name: str, dry_run: bool) -> int:
    """Fallback without blk-iolatency: raise the default io.weight; return changes."""
    path = os.path.join(slice_dir, "io.weight")
    try:
        current = current_default_weight(read_text(path))
    except OSError as exc:
        raise ProtectionError(f"cannot read {path}: {exc}") from exc
    if current is not None and current >= MIN_WEIGHT:
        log(f"{slice_name} io.weight default {current} (keeping; minimum {MIN_WEIGHT})")
        return 0
    if dry_run:
        log(f"would set {slice_name} io.weight default {current} -> {MIN_WEIGHT}")
        return 1
    if write_or_fail(path, f"default {MIN_WEIGHT}", what="io.weight"):
        log(f"set {slice_name} io.weight default {current} -> {MIN_WEIGHT}")
        return 1
    return 0


def run(*, root: str, slices: list[str], dry_run: bool) -> int:
    """Protect every slice; return the number of changes made (or planned)."""
    cgroup = under_root(root, "/sys/fs/cgroup")
    if not os.path.isfile(os.path.join(cgroup, "cgroup.controllers")):
        log("cgroup v2 is not mounted; nothing to do")
        return 0
    changes = 0
    for slice_name in slices:
        slice_dir = os.path.join(cgroup, slice_name)
        if not os.path.isdir(slice_dir):
            log(f"{slice_name} does not exist; skipping")
        elif os.path.isfile(os.path.join(slice_dir, "io.latency")):
            changes += protect_latency(
                slice_dir=slice_dir, slice_name=slice_name, root=root, dry_run=dry_run
            )
        elif os.path.isfile(os.path.join(slice_dir, "io.weight")):
            changes += protect_weight(slice_dir=slice_dir, slice_name=slice_name, dry_run=dry_run)
        else:
            log(f"io controller not enabled for {slice_name}; skipping")
    return changes


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit 1 only on a real error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/", help="resolve node paths under this directory")
    parser.add_argument("--dry-run", action="store_true", help="print changes, write nothing")
    parser.add_argument(
        "--slice",
        action="append",
        dest="slices",
        help="cgroup to protect, relative to the cgroup root (repeatable; default system.slice)",
    )
    args = parser.parse_args(argv)
    try:
        changes = run(root=args.root, slices=args.slices or ["system.slice"], dry_run=args.dry_run)
    except ProtectionError as exc:
        log(f"error: {exc}")
        return 1
    log(f"done ({changes} change(s){' planned' if args.dry_run else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
