#!/usr/bin/env python3
"""Run KSM on zero-filled pages only, at a scan rate sized for the node's memory.

KubeVirt guests leave much of their RAM zero-filled (freshly booted, ballooned,
freed). Merging only those pages gives back most of what KSM can give on such nodes
without its costs for everything else: no copy-on-write sharing of page contents
between guests (and so no cross-VM timing side channel), and far less scanning work.

The knob that restricts KSM to zero pages is RHEL/RHCOS's
``/sys/kernel/mm/ksm/redhat_only_zero_pages``. ``use_zero_pages`` is a different
knob: it maps empty pages onto the kernel's zero page instead of a KSM page, and on
its own KSM still deduplicates every identical page it finds. It is left alone: pages
merged onto the zero page are no longer counted in ``pages_sharing`` (the kernel's
admin guide, ``ksm_zero_pages``), and ``pages_sharing`` is what node_exporter's ksmd
collector, which this feature turns on, reports. So:

* ``redhat_only_zero_pages=1`` is written first; a kernel that does not offer it gets
  no KSM from this script at all (``run`` is left as it is: an administrator's own
  KSM setup is not ours to stop), and the script exits 0;
* ``smart_scan=1`` where the kernel has it (6.7+ and backports): skip pages that did
  not merge last time;
* scan rate: 1000 pages per wake-up, with ``sleep_millisecs`` chosen so one sweep of
  all memory takes at most about two hours, never faster than 20000 pages/s on small
  nodes and never sleeping under 10 ms::

      rate  = max(20000, MemTotal pages / 7200 s)   (pages per second)
      sleep = clamp(1000 * 1000 / rate, 10, 50)      (milliseconds)

  so up to 512 GiB nodes scan at 20000 pages/s (sleep 50 ms) and larger ones faster;
* ``run=1`` last, once everything else is in place.

A kernel without KSM is not an error either. Standard library only; runs on the RHCOS
python (3.9). Every path is resolved under ``--root``. ``--dry-run`` prints what would
change and writes nothing. Running it twice changes nothing the second time. Exit 1
only when a file that exists cannot be read or written.
"""

from __future__ import annotations

import argparse
import os
import sys

KSM = "/sys/kernel/mm/ksm"
ZERO_ONLY = "redhat_only_zero_pages"
PAGES_PER_WAKE = 1000
MIN_RATE = 20000  # pages per second
MAX_SWEEP_SECONDS = 7200
SLEEP_BOUNDS_MS = (10, 50)
PAGE_KB = 4


class KsmError(Exception):
    """A real error: the node cannot be read or written as expected."""


def log(message: str) -> None:
    """Log one line to stdout (journald picks it up from the service)."""
    print(f"ksm-zero-pages: {message}", flush=True)


def under_root(root: str, path: str) -> str:
    """Resolve an absolute node path under ``root``."""
    return os.path.join(root, path.lstrip("/"))


def mem_total_kb(root: str) -> int:
    """MemTotal from /proc/meminfo in KiB."""
    path = under_root(root, "/proc/meminfo")
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError) as exc:
        raise KsmError(f"cannot read {path}: {exc}") from exc
    raise KsmError(f"no MemTotal in {path}")


def sleep_millisecs(mem_kb: int) -> int:
    """Sleep between wake-ups so a full sweep takes at most about two hours."""
    rate = max(MIN_RATE, mem_kb // PAGE_KB // MAX_SWEEP_SECONDS)
    low, high = SLEEP_BOUNDS_MS
    return max(low, min(high, PAGES_PER_WAKE * 1000 // rate))


def desired_settings(mem_kb: int) -> list[tuple[str, str]]:
    """Ordered (knob, value) pairs after the zero-page restriction; run=1 last."""
    return [
        ("smart_scan", "1"),
        ("pages_to_scan", str(PAGES_PER_WAKE)),
        ("sleep_millisecs", str(sleep_millisecs(mem_kb))),
        ("run", "1"),
    ]


def read_knob(path: str) -> str:
    """Current value of a KSM file."""
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError as exc:
        raise KsmError(f"cannot read {path}: {exc}") from exc


def apply_knob(*, root: str, knob: str, value: str, dry_run: bool) -> int:
    """Set one KSM knob when it differs; return 1 when changed (or planned)."""
    path = under_root(root, f"{KSM}/{knob}")
    if not os.path.exists(path):
        log(f"{knob}: not offered by this kernel; skipping")
        return 0
    current = read_knob(path)
    if current == value:
        log(f"{knob} = {current} (already set)")
        return 0
    if dry_run:
        log(f"would set {knob}: {current} -> {value}")
        return 1
    try:
        with open(path, "w", encoding="ascii") as handle:
            handle.write(value + "\n")
    except OSError as exc:
        raise KsmError(f"cannot write {path}: {exc}") from exc
    log(f"set {knob}: {current} -> {value}")
    return 1


def run(*, root: str, dry_run: bool) -> int:
    """Restrict KSM to zero pages, then tune and start it; return changes made (or planned)."""
    if not os.path.isdir(under_root(root, KSM)):
        log(f"{KSM} is missing: this kernel has no KSM; nothing to do")
        return 0
    if not os.path.exists(under_root(root, f"{KSM}/{ZERO_ONLY}")):
        log(f"{ZERO_ONLY} is not offered by this kernel, so KSM cannot be restricted to "
            "zero pages; leaving KSM as it is")
        return 0
    mem_kb = mem_total_kb(root)
    changes = apply_knob(root=root, knob=ZERO_ONLY, value="1", dry_run=dry_run)
    if not dry_run and read_knob(under_root(root, f"{KSM}/{ZERO_ONLY}")) != "1":
        raise KsmError(f"{ZERO_ONLY} did not stay at 1; not starting KSM")
    log(f"MemTotal {mem_kb} KiB: {PAGES_PER_WAKE} pages every "
        f"{sleep_millisecs(mem_kb)} ms")
    for knob, value in desired_settings(mem_kb):
        changes += apply_knob(root=root, knob=knob, value=value, dry_run=dry_run)
    return changes


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit 1 only on a real error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/", help="resolve node paths under this directory")
    parser.add_argument("--dry-run", action="store_true", help="print changes, write nothing")
    args = parser.parse_args(argv)
    try:
        changes = run(root=args.root, dry_run=args.dry_run)
    except KsmError as exc:
        log(f"error: {exc}")
        return 1
    log(f"done ({changes} change(s){' planned' if args.dry_run else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
