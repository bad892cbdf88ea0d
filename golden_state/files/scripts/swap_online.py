#!/usr/bin/env python3
"""Activate the swap an administrator prepared on this node; never provision any.

SWAP is on for every cluster that turns the autopilot on, so this runs on every
worker, most of which have no swap at all. It only ever calls ``swapon`` on space
somebody set aside for swap and initialised with ``mkswap``:

* the partition whose GPT partition label is ``OCPSWAP``
  (``/dev/disk/by-partlabel/OCPSWAP``), at priority 100;
* the file ``/var/tmp/ocpswap.file``, at priority 10.

The GPT partition label is the administrator's statement "this partition is swap";
a filesystem label (what ``blkid -L`` matches) is not, and is never consulted. Each
candidate must already carry a swap signature (``SWAPSPACE2`` at the end of its first
page), read here without writing: a partition or file without one is reported and
left alone, because ``mkswap`` over somebody's data would destroy it. A swap file
others may read (mode beyond 0600) or that is a symlink is refused: swap holds guest
memory. Nothing prepared is the normal case: the script says so and exits 0.

The script never formats, partitions, creates or resizes anything, and never turns
swap off. Standard library only; runs on the RHCOS python (3.9). Node paths are
resolved under ``--root``; commands (``swapon``) are looked up on PATH. ``--dry-run``
prints what it would activate and runs nothing. Running it again activates nothing
twice (``/proc/swaps`` is checked first). Exit 1 only when ``swapon`` fails on space
that was prepared.
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PARTLABEL_PATH = "/dev/disk/by-partlabel/OCPSWAP"
PARTITION_PRIORITY = 100
SWAP_FILE = "/var/tmp/ocpswap.file"
FILE_PRIORITY = 10
# mkswap writes its magic at the end of the first page; page sizes of the platforms
# RHCOS runs on (x86_64, aarch64 with 4K or 64K pages, ppc64le, s390x).
PAGE_SIZES = (4096, 16384, 65536)
SWAP_MAGICS = (b"SWAPSPACE2", b"SWAP-SPACE")
COMMAND_TIMEOUT = 60

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def log(message: str) -> None:
    """Log one line to stdout (journald picks it up from the service)."""
    print(f"swap-online: {message}", flush=True)


def under_root(root: str, path: str) -> str:
    """Resolve an absolute node path under ``root``."""
    return os.path.join(root, path.lstrip("/"))


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a command with a timeout; its output is returned, never raised."""
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )


def has_swap_signature(path: str) -> bool:
    """Whether ``path`` starts with a page ``mkswap`` initialised (read-only check)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(max(PAGE_SIZES))
    except OSError as exc:
        log(f"cannot read {path}: {exc.strerror}")
        return False
    return any(head[size - 10 : size] in SWAP_MAGICS for size in PAGE_SIZES)


def active_swaps(root: str) -> set[str]:
    """Real paths (under ``root``) of the swap areas ``/proc/swaps`` lists as active."""
    try:
        with open(under_root(root, "/proc/swaps"), encoding="utf-8") as handle:
            lines = handle.read().splitlines()[1:]
    except OSError:
        return set()
    return {
        os.path.realpath(under_root(root, line.split()[0].replace("\\040", " ")))
        for line in lines
        if line.split()
    }


@dataclass(frozen=True)
class Candidate:
    """Swap space an administrator prepared: node path, its real path here, priority."""

    path: str
    real: str
    priority: int


def partition_candidate(root: str) -> Candidate | None:
    """The OCPSWAP GPT partition when it exists and carries a swap signature."""
    link = under_root(root, PARTLABEL_PATH)
    if not os.path.lexists(link):
        return None
    real = os.path.realpath(link)
    if not os.path.exists(real):
        log(f"{PARTLABEL_PATH} points nowhere; skipping it")
        return None
    if not has_swap_signature(real):
        log(f"{PARTLABEL_PATH} carries no swap signature; leaving it alone "
            "(initialise it with mkswap to use it as swap)")
        return None
    return Candidate(PARTLABEL_PATH, real, PARTITION_PRIORITY)


def file_candidate(root: str) -> Candidate | None:
    """The prepared swap file when it is a private regular file with a swap signature."""
    path = under_root(root, SWAP_FILE)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log(f"cannot inspect {SWAP_FILE}: {exc.strerror}; skipping it")
        return None
    if not stat.S_ISREG(info.st_mode):
        log(f"{SWAP_FILE} is not a regular file; skipping it")
        return None
    if info.st_mode & 0o077:
        log(f"{SWAP_FILE} has mode {stat.S_IMODE(info.st_mode):04o}; refusing it "
            "(swap holds guest memory: chmod 600 it)")
        return None
    if not has_swap_signature(path):
        log(f"{SWAP_FILE} carries no swap signature; leaving it alone "
            "(initialise it with mkswap to use it as swap)")
        return None
    return Candidate(SWAP_FILE, os.path.realpath(path), FILE_PRIORITY)


def activate(*, root: str, dry_run: bool, runner: Runner | None = None) -> int:
    """Activate every prepared, inactive swap area; return the number of failures."""
    run = runner or run_command
    candidates = [c for c in (partition_candidate(root), file_candidate(root)) if c]
    if not candidates:
        log(f"no swap prepared (no partition labelled OCPSWAP, no {SWAP_FILE}); "
            "nothing to do")
        return 0
    active = active_swaps(root)
    failures = 0
    for candidate in candidates:
        if candidate.real in active:
            log(f"{candidate.path} is already active")
            continue
        argv = ["swapon", "--priority", str(candidate.priority), candidate.path]
        if dry_run:
            log(f"would run: {' '.join(argv)}")
            continue
        try:
            proc = run(argv)
        except (OSError, subprocess.SubprocessError) as exc:
            log(f"error: swapon {candidate.path} could not run: {exc}")
            failures += 1
            continue
        if proc.returncode != 0:
            log(f"error: swapon {candidate.path} failed ({proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()}")
            failures += 1
        else:
            log(f"activated {candidate.path} at priority {candidate.priority}")
    return failures


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit 1 only when activating prepared swap failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/", help="resolve node paths under this directory")
    parser.add_argument("--dry-run", action="store_true", help="print, activate nothing")
    args = parser.parse_args(argv)
    return 1 if activate(root=args.root, dry_run=args.dry_run) else 0


if __name__ == "__main__":
    sys.exit(main())
