"""What the memory-watermark unit of the SWAP MachineConfig must never do.

The rendered unit runs on a fake node (procfs, the kubelet's config) with every
command stubbed. It must never lower a value an administrator raised, must respect
the kubelet's eviction threshold, and must exit 0 where the kernel knob is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from tests.support.node_sandbox import FORMATTING, Sandbox
from tests.support.rendering import context, make_hco, one

UNIT = "swap-watermark-tuning.service"
GIB_KB = 1024 * 1024
MIB_KB = 1024
WSF = "/proc/sys/vm/watermark_scale_factor"


@pytest.fixture
def mc(golden: GoldenState) -> dict[str, Any]:
    return one(golden, "swap-worker-machineconfig", context(make_hco()))


def make_node(tmp_path: Path, mc: dict[str, Any], *, mem_kb: int = 64 * GIB_KB,
              wsf: int | None = 10, min_free: int = 90112,
              kubelet: str | None = "evictionHard:\n  memory.available: 100Mi\n") -> Sandbox:
    box = Sandbox(tmp_path)
    box.install(mc)
    box.write("/proc/meminfo", f"MemTotal:       {mem_kb} kB\nMemFree:  1000 kB\n")
    box.write("/proc/sys/vm/min_free_kbytes", f"{min_free}\n")
    if wsf is not None:
        box.write(WSF, f"{wsf}\n")
    if kubelet is not None:
        box.write("/etc/kubernetes/kubelet.conf",
                  "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
                  + kubelet)
    return box


def run(box: Sandbox, mc: dict[str, Any]) -> None:
    results = box.run_unit(mc, UNIT)
    assert results, f"{UNIT} has no ExecStart"
    for proc in results:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert box.commands() & FORMATTING == set(), box.calls()


def low_watermark_kb(box: Sandbox, mem_kb: int) -> int:
    """The node's LOW watermark (sum over zones) the kernel derives from the two knobs."""
    min_free = int(box.path("/proc/sys/vm/min_free_kbytes").read_text())
    wsf = int(box.path(WSF).read_text())
    return min_free + max(min_free // 4, mem_kb * wsf // 10000)


def test_never_lowers_an_administrators_value(tmp_path: Path, mc: dict[str, Any]) -> None:
    box = make_node(tmp_path, mc, wsf=500)
    run(box, mc)
    assert box.path(WSF).read_text().strip() == "500"


def test_low_watermark_clears_the_kubelet_eviction_threshold(
    tmp_path: Path, mc: dict[str, Any]
) -> None:
    mem = 64 * GIB_KB
    box = make_node(tmp_path, mc, mem_kb=mem,
                    kubelet="evictionHard:\n  memory.available: \"10%\"\n")
    run(box, mc)
    eviction = mem // 10
    assert low_watermark_kb(box, mem) >= eviction + max(256 * MIB_KB, mem // 100)


def test_absent_knob_is_not_an_error(tmp_path: Path, mc: dict[str, Any]) -> None:
    box = make_node(tmp_path, mc, wsf=None)
    before = box.tree()
    run(box, mc)
    assert box.tree() == before


def test_min_free_kbytes_is_left_to_the_administrator(
    tmp_path: Path, mc: dict[str, Any]
) -> None:
    box = make_node(tmp_path, mc, min_free=67584)
    run(box, mc)
    assert box.path("/proc/sys/vm/min_free_kbytes").read_text().strip() == "67584"
