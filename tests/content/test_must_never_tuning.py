"""What the IO-latency and THP units must never do, run as the node would run them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autopilot.golden.catalog import GoldenState
from tests.support.node_sandbox import FORMATTING, Sandbox
from tests.support.rendering import context, make_hco, one

THP = "/sys/kernel/mm/transparent_hugepage"


def run_ok(box: Sandbox, mc: dict[str, Any], unit: str) -> None:
    results = box.run_unit(mc, unit)
    assert results, unit
    for proc in results:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert box.commands() & FORMATTING == set(), box.calls()


def swap_mc(golden: GoldenState) -> dict[str, Any]:
    return one(golden, "swap-worker-machineconfig", context(make_hco()))


def thp_mc(golden: GoldenState) -> dict[str, Any]:
    hco = make_hco({"platform.kubevirt.io/enable-thp-tuning": "true"})
    return one(golden, "thp-tuning-worker-machineconfig", context(hco))


def test_io_latency_on_cgroup_v1_changes_nothing(golden: GoldenState, tmp_path: Path) -> None:
    mc = swap_mc(golden)
    box = Sandbox(tmp_path)
    box.install(mc)
    before = box.tree()
    run_ok(box, mc, "io-latency-protection.service")
    assert box.tree() == before and box.calls() == []


def test_io_latency_only_writes_runtime_dropins(golden: GoldenState, tmp_path: Path) -> None:
    mc = swap_mc(golden)
    box = Sandbox(tmp_path)
    box.install(mc)
    box.write("/sys/fs/cgroup/cgroup.controllers", "cpu io memory\n")
    box.write("/sys/class/block/vda/dev", "252:0\n")
    box.write("/sys/class/block/vda4/dev", "252:4\n")
    box.write("/sys/class/block/vda4/partition", "4\n")
    box.path("/sys/block/vda/vda4").mkdir(parents=True)
    box.write("/proc/self/mountinfo", "30 1 252:4 / /sysroot rw - xfs /dev/vda4 rw\n")
    box.write("/dev/vda", b"\x00" * 4096)
    before = box.tree()
    run_ok(box, mc, "io-latency-protection.service")
    after = box.tree()
    added = set(after) - set(before)
    assert all(path.startswith("run/systemd/system/") for path in added), added
    assert {k: v for k, v in after.items() if k in before} == before  # nothing else changed
    assert box.calls() == [["systemctl", "daemon-reload"]]


def test_thp_without_thp_is_not_an_error(golden: GoldenState, tmp_path: Path) -> None:
    mc = thp_mc(golden)
    box = Sandbox(tmp_path)
    box.install(mc)
    box.write("/proc/meminfo", "MemTotal: 67108864 kB\n")
    before = box.tree()
    run_ok(box, mc, "thp-tuning.service")
    assert box.tree() == before


def test_thp_keeps_an_administrators_faster_khugepaged(
    golden: GoldenState, tmp_path: Path
) -> None:
    mc = thp_mc(golden)
    box = Sandbox(tmp_path)
    box.install(mc)
    box.write("/proc/meminfo", "MemTotal: 67108864 kB\n")
    box.write(f"{THP}/enabled", "[always] madvise never\n")
    box.write(f"{THP}/khugepaged/pages_to_scan", "400000\n")
    run_ok(box, mc, "thp-tuning.service")
    assert box.path(f"{THP}/khugepaged/pages_to_scan").read_text() == "400000\n"
    assert box.path(f"{THP}/enabled").read_text() == "madvise\n"
