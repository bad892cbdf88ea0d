#!/usr/bin/env python3
"""Run KSM for zero-page merging with a scan rate that follows memory pressure.

KubeVirt guests leave much of their RAM zero-filled (freshly booted, ballooned,
freed). With ``use_zero_pages=1`` KSM maps such pages onto the kernel's shared
zero page instead of building stable-tree shares between guests, which is cheap,
needs no copy-on-write bookkeeping between VMs and does not expose one guest's
page contents to another through timing. KSM still compares other identical
pages it scans; the kernel offers no switch to turn that off, so the scan rate is
kept low while memory is plentiful and only raised when it gets scarce:

==================  ==============  ================
MemAvailable/Total  pages_to_scan   sleep_millisecs
==================  ==============  ================
> 40 %              100             200
20 % - 40 %         500             100
10 % - 20 %         1000            50
< 10 %              2000            20
==================  ==============  ================

``merge_across_nodes=0`` keeps merged pages on their NUMA node (the kernel only
accepts that change while nothing is shared; a busy refusal is logged and left
for the next run). ``smart_scan=1`` is set where the kernel has it (6.7+).
The service runs this script once a minute from a timer.

Standard library only; runs on the RHCOS python (3.9). Every path is resolved
under ``--root``. ``--dry-run`` prints what would change and writes nothing.
Running it twice with the same memory state changes nothing the second time.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

KSM = "/sys/kernel/mm/ksm"
# (minimum available fraction, pages_to_scan, sleep_millisecs), most relaxed first
SCAN_TABLE = ((0.40, 100, 200), (0.20, 500, 100), (0.10, 1000, 50), (0.0, 2000, 20))


class KsmError(Exception):
    """A real error: the node cannot be read or written as expected."""


def log(message: str) -> None:
    """Log one line to stdout (journald picks it up from the service)."""
    print(f"ksm-zero-pages: {message}", flush=True)


def under_root(root: str, path: str) -> str:
    """Resolve an absolute node path under ``root``."""
    return os.path.join(root, path.lstrip("/"))


def available_fraction(root: str) -> float:
    """MemAvailable / MemTotal from /proc/meminfo."""
    path = under_root(root, "/proc/meminfo")
    values: dict[str, int] = {}
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in ("MemTotal", "MemAvailable"):
                    values[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError) as exc:
        raise KsmError(f"cannot read {path}: {exc}") from exc
    if values.get("MemTotal", 0) <= 0 or "MemAvailable" not in values:
        raise KsmError(f"no MemTotal/MemAvailable in {path}")
    return values["MemAvailable"] / values["MemTotal"]


def scan_rate(fraction: float) -> tuple[int, int]:
    """Pick (pages_to_scan, sleep_millisecs) for the available-memory fraction."""
    for minimum, pages, sleep_ms in SCAN_TABLE:
        if fraction > minimum:
            return pages, sleep_ms
    return SCAN_TABLE[-1][1], SCAN_TABLE[-1][2]


def desired_settings(fraction: float) -> list[tuple[str, str]]:
    """Ordered (knob, value) pairs; run=1 last so KSM starts fully configured."""
    pages, sleep_ms = scan_rate(fraction)
    return [
        ("use_zero_pages", "1"),
        ("merge_across_nodes", "0"),
        ("smart_scan", "1"),
        ("pages_to_scan", str(pages)),
        ("sleep_millisecs", str(sleep_ms)),
        ("run", "1"),
    ]


def apply_knob(*, root: str, knob: str, value: str, dry_run: bool) -> int:
    """Set one KSM knob when it differs; return 1 when changed (or planned)."""
    path = under_root(root, f"{KSM}/{knob}")
    if not os.path.exists(path):
        log(f"{knob}: not offered by this kernel; skipping")
        return 0
    try:
        with open(path, encoding="ascii") as handle:
            current = handle.read().strip()
    except OSError as exc:
        raise KsmError(f"cannot read {path}: {exc}") from exc
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
        if exc.errno == errno.EBUSY:
            log(f"{knob}: kernel busy (pages already shared); keeping {current} for now")
            return 0
        raise KsmError(f"cannot write {path}: {exc}") from exc
    log(f"set {knob}: {current} -> {value}")
    return 1


def run(*, root: str, dry_run: bool) -> int:
    """Apply every KSM setting; return the number of changes made (or planned)."""
    if not os.path.isdir(under_root(root, KSM)):
        raise KsmError(f"{KSM} is missing: kernel built without KSM")
    fraction = available_fraction(root)
    log(f"memory available {fraction:.0%}")
    return sum(
        apply_knob(root=root, knob=knob, value=value, dry_run=dry_run)
        for knob, value in desired_settings(fraction)
    )


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
