"""What the KSM zero-pages MachineConfig must never do, run as the node would run it.

The feature promises zero-page merging only. On RHEL/RHCOS kernels that restriction is
``/sys/kernel/mm/ksm/redhat_only_zero_pages``; ``use_zero_pages`` alone leaves full
content deduplication running. Where the restriction is not offered the unit must not
start KSM at all, and on a kernel without KSM it must simply exit 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from tests.support.node_sandbox import FORMATTING, Sandbox, units_of
from tests.support.rendering import context, make_hco, one

KSM = "/sys/kernel/mm/ksm"


@pytest.fixture
def mc(golden: GoldenState) -> dict[str, Any]:
    hco = make_hco({"platform.kubevirt.io/enable-ksm-zero-only": "true"})
    return one(golden, "ksm-zero-pages-worker-machineconfig", context(hco))


def make_node(tmp_path: Path, mc: dict[str, Any], *, ksm: bool = True,
              zero_only_knob: bool = True, run: str = "0") -> Sandbox:
    box = Sandbox(tmp_path)
    box.install(mc)
    total = 128 * 1024 * 1024
    box.write("/proc/meminfo", f"MemTotal: {total} kB\nMemAvailable: {total // 2} kB\n")
    if ksm:
        knobs = {"run": run, "use_zero_pages": "0", "merge_across_nodes": "1",
                 "pages_to_scan": "100", "sleep_millisecs": "20"}
        if zero_only_knob:
            knobs["redhat_only_zero_pages"] = "0"
        for knob, value in knobs.items():
            box.write(f"{KSM}/{knob}", value + "\n")
    return box


def service_units(mc: dict[str, Any]) -> list[str]:
    return [name for name in units_of(mc) if name.endswith(".service")]


def run_services(box: Sandbox, mc: dict[str, Any]) -> None:
    names = service_units(mc)
    assert names
    for name in names:
        for proc in box.run_unit(mc, name):
            assert proc.returncode == 0, proc.stdout + proc.stderr
    assert box.commands() & FORMATTING == set(), box.calls()


def knob(box: Sandbox, name: str) -> str:
    return box.path(f"{KSM}/{name}").read_text().strip()


def test_restricts_ksm_to_zero_pages_before_starting_it(
    tmp_path: Path, mc: dict[str, Any]
) -> None:
    box = make_node(tmp_path, mc)
    run_services(box, mc)
    assert knob(box, "redhat_only_zero_pages") == "1"
    assert knob(box, "run") == "1"


def test_never_starts_full_deduplication_without_the_knob(
    tmp_path: Path, mc: dict[str, Any]
) -> None:
    box = make_node(tmp_path, mc, zero_only_knob=False)
    before = box.tree()
    run_services(box, mc)
    assert knob(box, "run") == "0"
    assert box.tree() == before


def test_leaves_an_administrators_ksm_alone_without_the_knob(
    tmp_path: Path, mc: dict[str, Any]
) -> None:
    box = make_node(tmp_path, mc, zero_only_knob=False, run="1")
    before = box.tree()
    run_services(box, mc)
    assert box.tree() == before


def test_kernel_without_ksm_is_not_an_error(tmp_path: Path, mc: dict[str, Any]) -> None:
    box = make_node(tmp_path, mc, ksm=False)
    before = box.tree()
    run_services(box, mc)
    assert box.tree() == before
