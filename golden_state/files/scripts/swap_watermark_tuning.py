#!/usr/bin/env python3
"""Tune the kernel memory watermarks of a node that runs with swap enabled.

With swap on, reclaim must start early enough that kswapd swaps cold pages out in
the background instead of stalling allocating tasks (direct reclaim). Two knobs
decide that:

* ``vm.min_free_kbytes`` - the floor every zone keeps free; sized at 0.5 % of RAM,
  clamped to [64 MiB, 1 GiB] and never lowered below what the node already has.
* ``vm.watermark_scale_factor`` - the gap (in 1/10000 of RAM) between the min, low
  and high watermarks, i.e. how much kswapd frees once woken. The gap aims at
  1 % of RAM but at most 4 GiB, expressed as a factor clamped to [10, 1000].

Standard library only; runs on the RHCOS python (3.9). Every path is resolved
under ``--root`` so the script can be tested against a fake procfs. ``--dry-run``
prints what would change and writes nothing. Running it twice changes nothing
the second time.
"""

from __future__ import annotations

import argparse
import os
import sys

KIB = 1
MIB = 1024 * KIB
GIB = 1024 * MIB

MIN_FREE_FLOOR_KB = 64 * MIB
MIN_FREE_CEILING_KB = 1 * GIB
GAP_CEILING_KB = 4 * GIB
SCALE_FLOOR = 10
SCALE_CEILING = 1000


class TuningError(Exception):
    """A real error: the node cannot be read or written as expected."""


def log(message: str) -> None:
    """Log one line to stdout (journald picks it up from the service)."""
    print(f"swap-watermark-tuning: {message}", flush=True)


def under_root(root: str, path: str) -> str:
    """Resolve an absolute node path under ``root``."""
    return os.path.join(root, path.lstrip("/"))


def mem_total_kb(root: str) -> int:
    """Return MemTotal from /proc/meminfo in KiB."""
    path = under_root(root, "/proc/meminfo")
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError) as exc:
        raise TuningError(f"cannot read MemTotal from {path}: {exc}") from exc
    raise TuningError(f"no MemTotal line in {path}")


def desired_min_free_kb(mem_kb: int) -> int:
    """0.5 % of RAM, clamped to [64 MiB, 1 GiB]."""
    return max(MIN_FREE_FLOOR_KB, min(MIN_FREE_CEILING_KB, mem_kb // 200))


def desired_scale_factor(mem_kb: int) -> int:
    """Factor giving a watermark gap of 1 % of RAM capped at 4 GiB, clamped to [10, 1000]."""
    mem_kb = max(mem_kb, 1)
    factor = 100 if mem_kb <= GAP_CEILING_KB * 100 else (GAP_CEILING_KB * 10000) // mem_kb
    return max(SCALE_FLOOR, min(SCALE_CEILING, factor))


def read_int(path: str) -> int:
    """Read an integer sysctl file."""
    try:
        with open(path, encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError) as exc:
        raise TuningError(f"cannot read {path}: {exc}") from exc


def apply_sysctl(*, root: str, name: str, target: int, dry_run: bool, never_lower: bool) -> bool:
    """Set ``vm.<name>`` to ``target`` when it differs; return True if it changed (or would)."""
    path = under_root(root, f"/proc/sys/vm/{name}")
    current = read_int(path)
    if current == target or (never_lower and current > target):
        log(f"vm.{name} = {current} (keeping; target {target})")
        return False
    if dry_run:
        log(f"would set vm.{name}: {current} -> {target}")
        return True
    try:
        with open(path, "w", encoding="ascii") as handle:
            handle.write(f"{target}\n")
    except OSError as exc:
        raise TuningError(f"cannot write {path}: {exc}") from exc
    log(f"set vm.{name}: {current} -> {target}")
    return True


def run(*, root: str, dry_run: bool) -> int:
    """Compute and apply both knobs; return the number of changes made (or planned)."""
    mem_kb = mem_total_kb(root)
    log(f"MemTotal {mem_kb} KiB")
    changes = 0
    changes += apply_sysctl(
        root=root,
        name="min_free_kbytes",
        target=desired_min_free_kb(mem_kb),
        dry_run=dry_run,
        never_lower=True,
    )
    changes += apply_sysctl(
        root=root,
        name="watermark_scale_factor",
        target=desired_scale_factor(mem_kb),
        dry_run=dry_run,
        never_lower=False,
    )
    return changes


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit 1 only on a real error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/", help="resolve node paths under this directory")
    parser.add_argument("--dry-run", action="store_true", help="print changes, write nothing")
    args = parser.parse_args(argv)
    try:
        changes = run(root=args.root, dry_run=args.dry_run)
    except TuningError as exc:
        log(f"error: {exc}")
        return 1
    log(f"done ({changes} change(s){' planned' if args.dry_run else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
