#!/usr/bin/env python3
"""Raise vm.watermark_scale_factor so kswapd reclaims before the kubelet evicts.

With swap on, background reclaim (kswapd swapping cold pages out) has to start while
the node still has more available memory than the kubelet's hard eviction threshold
(``evictionHard`` ``memory.available``, 100Mi unless configured); otherwise the
kubelet starts evicting pods before the kernel even tried to make room.

kswapd wakes when free memory falls below the LOW watermark. Summed over the zones,

    LOW = min_free_kbytes + max(min_free_kbytes / 4, MemTotal * watermark_scale_factor / 10000)

so the script reads the eviction threshold from the kubelet's configuration
(``/etc/kubernetes/kubelet.conf``, then the drop-ins in
``/etc/openshift/kubelet.conf.d``; a percentage is of MemTotal), aims LOW at
``eviction + max(256 MiB, 1 % of MemTotal)`` and derives the smallest
``watermark_scale_factor`` that gets there. It only ever raises the factor: an
administrator's higher value is kept. After writing it reads the LOW watermarks from
``/proc/zoneinfo`` and checks LOW > eviction, warning when the kernel's limit on the
factor kept it short. ``min_free_kbytes`` is read, never changed: it is the atomic
reserve every allocation pays for, and the administrator's to size.

A kernel without the knob, or a node without a kubelet configuration (the default
threshold is then used), is not an error. Standard library only; runs on the RHCOS
python (3.9). Every path is resolved under ``--root``. ``--dry-run`` prints what
would change and writes nothing. Running it twice changes nothing the second time.
Exit 1 only when /proc cannot be read or the knob cannot be written.
"""

from __future__ import annotations

import argparse
import errno
import glob
import json
import os
import re
import sys

KIB = 1
MIB = 1024 * KIB
GIB = 1024 * MIB

KUBELET_CONFIG = "/etc/kubernetes/kubelet.conf"
KUBELET_DROPINS = "/etc/openshift/kubelet.conf.d"
DEFAULT_EVICTION = "100Mi"
MARGIN_FLOOR_KB = 256 * MIB
MARGIN_PERCENT = 1
WSF = "/proc/sys/vm/watermark_scale_factor"
MIN_FREE = "/proc/sys/vm/min_free_kbytes"
# The kernel accepts 1..3000 since 5.x backports (1..1000 before); try high, fall back.
SCALE_CEILINGS = (3000, 1000)
QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T|%)?\s*$")
SUFFIX_KB = {
    None: 1 / 1024, "k": 1000 / 1024, "K": 1000 / 1024, "M": 1000**2 / 1024,
    "G": 1000**3 / 1024, "T": 1000**4 / 1024, "Ki": 1, "Mi": MIB, "Gi": GIB, "Ti": 1024 * GIB,
}


class TuningError(Exception):
    """A real error: the node cannot be read or written as expected."""


def log(message: str) -> None:
    """Log one line to stdout (journald picks it up from the service)."""
    print(f"swap-watermark-tuning: {message}", flush=True)


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
        raise TuningError(f"cannot read MemTotal from {path}: {exc}") from exc
    raise TuningError(f"no MemTotal line in {path}")


def quantity_kb(text: str, *, mem_kb: int) -> int | None:
    """A Kubernetes quantity ("100Mi", "1G", "5%") in KiB; None when it does not parse."""
    match = QUANTITY.match(text.strip().strip("\"'"))
    if not match:
        return None
    number, suffix = float(match.group(1)), match.group(2)
    if suffix == "%":
        return int(mem_kb * number / 100)
    return int(number * SUFFIX_KB[suffix])


def eviction_from_json(text: str) -> str | None:
    """``evictionHard["memory.available"]`` of a JSON kubelet config, if set."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    hard = data.get("evictionHard") if isinstance(data, dict) else None
    value = hard.get("memory.available") if isinstance(hard, dict) else None
    return str(value) if value is not None else None


def eviction_from_yaml(text: str) -> str | None:
    """``evictionHard`` ``memory.available`` of a YAML kubelet config (block or flow form)."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*)evictionHard:\s*(.*)$", line)
        if not match:
            continue
        indent, rest = len(match.group(1)), match.group(2).strip()
        if rest.startswith("{"):
            flow = re.search(r"[\"']?memory\.available[\"']?\s*:\s*([^,}]+)", rest)
            return flow.group(1).strip().strip("\"'") if flow else None
        for inner in lines[index + 1 :]:
            if not inner.strip() or inner.lstrip().startswith("#"):
                continue
            if len(inner) - len(inner.lstrip()) <= indent:
                break
            key, _, value = inner.strip().partition(":")
            if key.strip("\"'") == "memory.available":
                return value.split("#", 1)[0].strip().strip("\"'")
        return None
    return None


def kubelet_config_files(root: str) -> list[str]:
    """Node paths of the kubelet config and its drop-ins, in the order the kubelet reads them."""
    dropins = glob.glob(os.path.join(under_root(root, KUBELET_DROPINS), "*.conf"))
    return [KUBELET_CONFIG] + [
        os.path.join(KUBELET_DROPINS, os.path.basename(p)) for p in sorted(dropins)
    ]


def eviction_threshold(root: str) -> str:
    """The kubelet's hard memory eviction threshold as written (default 100Mi)."""
    found, source = DEFAULT_EVICTION, "kubelet default"
    for node_path in kubelet_config_files(root):
        try:
            with open(under_root(root, node_path), encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            continue
        value = eviction_from_json(text) or eviction_from_yaml(text)
        if value:
            found, source = value, node_path
    log(f"kubelet evictionHard memory.available = {found} ({source})")
    return found


def read_int(path: str) -> int:
    """Read an integer sysctl file."""
    try:
        with open(path, encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError) as exc:
        raise TuningError(f"cannot read {path}: {exc}") from exc


def needed_factor(*, mem_kb: int, min_free_kb: int, eviction_kb: int) -> int:
    """Smallest watermark_scale_factor putting LOW at eviction + max(256 MiB, 1 %)."""
    target_low = eviction_kb + max(MARGIN_FLOOR_KB, mem_kb * MARGIN_PERCENT // 100)
    gap = target_low - min_free_kb
    if gap <= min_free_kb // 4:
        return 1
    return -(-gap * 10000 // max(mem_kb, 1))  # ceiling division


def zoneinfo_low_kb(root: str) -> int | None:
    """Sum of the LOW watermarks of every zone in KiB, or None without /proc/zoneinfo."""
    try:
        with open(under_root(root, "/proc/zoneinfo"), encoding="ascii") as handle:
            text = handle.read()
    except OSError:
        return None
    pages = sum(int(m.group(1)) for m in re.finditer(r"^\s+low\s+(\d+)\s*$", text, re.M))
    return pages * (os.sysconf("SC_PAGE_SIZE") // 1024)


def write_factor(path: str, wanted: int) -> int:
    """Write the factor, stepping down to the kernel's ceiling; return what was written."""
    for ceiling in SCALE_CEILINGS:
        value = min(wanted, ceiling)
        try:
            with open(path, "w", encoding="ascii") as handle:
                handle.write(f"{value}\n")
            return value
        except OSError as exc:
            if exc.errno != errno.EINVAL or value <= SCALE_CEILINGS[-1]:
                raise TuningError(f"cannot write {path}: {exc}") from exc
            log(f"kernel refused watermark_scale_factor {value}; trying {SCALE_CEILINGS[-1]}")
    raise TuningError(f"cannot write {path}")  # not reached: the last ceiling raises


def run(*, root: str, dry_run: bool) -> int:
    """Raise the factor when needed; return the number of changes made (or planned)."""
    path = under_root(root, WSF)
    if not os.path.exists(path):
        log(f"{WSF} is not offered by this kernel; nothing to do")
        return 0
    mem_kb = mem_total_kb(root)
    eviction = eviction_threshold(root)
    eviction_kb = quantity_kb(eviction, mem_kb=mem_kb)
    if eviction_kb is None:
        log(f"cannot parse eviction threshold {eviction!r}; using {DEFAULT_EVICTION}")
        eviction_kb = quantity_kb(DEFAULT_EVICTION, mem_kb=mem_kb) or 0
    min_free_kb = read_int(under_root(root, MIN_FREE))
    current = read_int(path)
    wanted = min(needed_factor(mem_kb=mem_kb, min_free_kb=min_free_kb,
                               eviction_kb=eviction_kb), SCALE_CEILINGS[0])
    log(f"MemTotal {mem_kb} KiB, eviction {eviction_kb} KiB, min_free_kbytes {min_free_kb}")
    if current >= wanted:
        log(f"vm.watermark_scale_factor = {current} (keeping; needs at least {wanted})")
        return 0
    if dry_run:
        log(f"would raise vm.watermark_scale_factor: {current} -> {wanted}")
        return 1
    written = write_factor(path, wanted)
    log(f"raised vm.watermark_scale_factor: {current} -> {written}")
    low_kb = zoneinfo_low_kb(root)
    if low_kb is None:
        log("no /proc/zoneinfo; cannot verify the LOW watermark")
    elif low_kb <= eviction_kb:
        log(f"warning: LOW watermark {low_kb} KiB is still at or below the eviction "
            f"threshold {eviction_kb} KiB")
    else:
        log(f"LOW watermark {low_kb} KiB is above the eviction threshold {eviction_kb} KiB")
    return 1


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
