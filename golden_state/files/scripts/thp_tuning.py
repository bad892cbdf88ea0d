#!/usr/bin/env python3
"""Configure transparent huge pages and khugepaged for KVM guests.

QEMU asks for huge pages on guest RAM with ``madvise(MADV_HUGEPAGE)``, so THP is
set to ``madvise``: guests get huge pages, other processes on the node do not
pay for them (memory bloat, latency spikes). khugepaged is made to collapse guest
memory into huge pages sooner, more often on larger nodes. These are the reference
operator's three settings and no others (the defrag, shmem and allocation-retry knobs
keep the kernel's values):

======================================  ==========================  ===============
knob (under transparent_hugepage/)      value                       kernel default
======================================  ==========================  ===============
enabled                                 madvise                     always
khugepaged/pages_to_scan                130000 (never lowered)      4096
khugepaged/scan_sleep_millisecs         1000 + 64000 / RAM in GiB   10000
                                        (never raised)
======================================  ==========================  ===============

130000 pages is about 254 huge-page regions per wake-up; the sleep goes from 5 s on
a 16 GiB node to about 1 s on a 1 TiB one. An administrator who made khugepaged
scan more pages or wake more often keeps that. A kernel without THP, or without one
of the knobs, is not an error.

Standard library only; runs on the RHCOS python (3.9). Every path is resolved
under ``--root``. ``--dry-run`` prints what would change and writes nothing.
Running it twice changes nothing the second time.
"""

from __future__ import annotations

import argparse
import os
import sys

THP = "/sys/kernel/mm/transparent_hugepage"
PAGES_TO_SCAN = 130000
# knob -> how a numeric value compares with an administrator's: the more aggressive wins.
KEEP_IF_GREATER = {"khugepaged/pages_to_scan"}
KEEP_IF_SMALLER = {"khugepaged/scan_sleep_millisecs"}


def settings(mem_kb: int) -> list[tuple[str, str]]:
    """Ordered (knob, value) pairs for a node with ``mem_kb`` of RAM."""
    gib = max(1, mem_kb // (1024 * 1024))
    return [
        ("enabled", "madvise"),
        ("khugepaged/pages_to_scan", str(PAGES_TO_SCAN)),
        ("khugepaged/scan_sleep_millisecs", str(1000 + 64000 // gib)),
    ]


class ThpError(Exception):
    """A real error: the node cannot be read or written as expected."""


def log(message: str) -> None:
    """Log one line to stdout (journald picks it up from the service)."""
    print(f"thp-tuning: {message}", flush=True)


def under_root(root: str, path: str) -> str:
    """Resolve an absolute node path under ``root``."""
    return os.path.join(root, path.lstrip("/"))


def current_value(text: str) -> str:
    """The active value of a THP file: the bracketed word of a choice list, else the text."""
    text = text.strip()
    for word in text.split():
        if word.startswith("[") and word.endswith("]"):
            return word[1:-1]
    return text


def choices(text: str) -> list[str] | None:
    """The offered words of a choice list ("always [madvise] never"), or None for plain values."""
    words = text.split()
    if not any(w.startswith("[") for w in words):
        return None
    return [w.strip("[]") for w in words]


def apply_knob(*, root: str, knob: str, value: str, dry_run: bool) -> int:
    """Set one knob when it differs; return 1 when changed (or planned)."""
    path = under_root(root, f"{THP}/{knob}")
    if not os.path.exists(path):
        log(f"{knob}: not offered by this kernel; skipping")
        return 0
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read()
    except OSError as exc:
        raise ThpError(f"cannot read {path}: {exc}") from exc
    offered = choices(text)
    if offered is not None and value not in offered:
        log(f"{knob}: kernel does not offer {value!r} (offers {', '.join(offered)}); skipping")
        return 0
    current = current_value(text)
    if current == value:
        log(f"{knob} = {current} (already set)")
        return 0
    if current.isdigit() and (
        (knob in KEEP_IF_GREATER and int(current) > int(value))
        or (knob in KEEP_IF_SMALLER and int(current) < int(value))
    ):
        log(f"{knob} = {current} (keeping the administrator's value; ours {value})")
        return 0
    if dry_run:
        log(f"would set {knob}: {current} -> {value}")
        return 1
    try:
        with open(path, "w", encoding="ascii") as handle:
            handle.write(value + "\n")
    except OSError as exc:
        raise ThpError(f"cannot write {path}: {exc}") from exc
    log(f"set {knob}: {current} -> {value}")
    return 1


def mem_total_kb(root: str) -> int:
    """MemTotal from /proc/meminfo in KiB."""
    path = under_root(root, "/proc/meminfo")
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError) as exc:
        raise ThpError(f"cannot read {path}: {exc}") from exc
    raise ThpError(f"no MemTotal in {path}")


def run(*, root: str, dry_run: bool) -> int:
    """Apply every setting; return the number of changes made (or planned)."""
    if not os.path.isdir(under_root(root, THP)):
        log(f"{THP} is missing: this kernel has no transparent huge pages; nothing to do")
        return 0
    return sum(
        apply_knob(root=root, knob=knob, value=value, dry_run=dry_run)
        for knob, value in settings(mem_total_kb(root))
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit 1 only on a real error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/", help="resolve node paths under this directory")
    parser.add_argument("--dry-run", action="store_true", help="print changes, write nothing")
    args = parser.parse_args(argv)
    try:
        changes = run(root=args.root, dry_run=args.dry_run)
    except ThpError as exc:
        log(f"error: {exc}")
        return 1
    log(f"done ({changes} change(s){' planned' if args.dry_run else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
