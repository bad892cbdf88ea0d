"""What the SWAP MachineConfig must never do on a node, run as the node would run it.

SWAP is always on once the autopilot is, so its units run on every worker of every
cluster. These tests take the rendered MachineConfig, write its files into a fake node
and run its swap unit with every disk and swap command stubbed: on a node where nobody
prepared swap it must change nothing; it must never format, partition or create
anything; it only activates what an administrator prepared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from tests.support.node_sandbox import FORMATTING, Sandbox, units_of
from tests.support.rendering import context, make_hco, one

SWAP_UNIT = "swap-online.service"
PARTLABEL = "/dev/disk/by-partlabel/OCPSWAP"
SWAP_FILE = "/var/tmp/ocpswap.file"
PAGE = 4096


def swap_header(page: int = PAGE) -> bytes:
    """The first page of a device or file ``mkswap`` prepared."""
    return bytes(page - 10) + b"SWAPSPACE2" + bytes(PAGE)


def xfs_filesystem() -> bytes:
    """The start of an XFS filesystem: somebody's data."""
    return b"XFSB" + bytes(2 * PAGE)


@pytest.fixture
def mc(golden: GoldenState) -> dict[str, Any]:
    """The SWAP MachineConfig of a default opt-in (no switch but the autopilot's)."""
    return one(golden, "swap-worker-machineconfig", context(make_hco()))


@pytest.fixture
def node(tmp_path: Path, mc: dict[str, Any]) -> Sandbox:
    """A worker where nobody prepared swap: no OCPSWAP partition, no swap file."""
    box = Sandbox(tmp_path)
    box.install(mc)
    box.write("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
    box.write("/proc/meminfo", "MemTotal:       65536000 kB\n")
    box.path("/var/tmp").mkdir(parents=True)
    box.path("/dev/disk/by-partlabel").mkdir(parents=True)
    # The shell tools a script might ask: nothing labelled, plenty of room on /var.
    box.reply("blkid", {"match": [], "stdout": "", "rc": 2})
    box.reply("df", {"match": [], "stdout": "Avail\n209715200\n"})
    box.reply("swapon", {"match": ["--show"], "stdout": ""})
    return box


def run_swap_unit(node: Sandbox, mc: dict[str, Any], *extra: str) -> None:
    results = node.run_unit(mc, SWAP_UNIT, extra=extra)
    assert results, f"{SWAP_UNIT} has no ExecStart"
    for proc in results:
        assert proc.returncode == 0, proc.stdout + proc.stderr


def assert_formats_nothing(node: Sandbox) -> None:
    assert node.commands() & FORMATTING == set(), node.calls()


def swapons(node: Sandbox) -> list[list[str]]:
    return [c for c in node.calls() if c[0] == "swapon" and "--show" not in c]


def test_the_unit_waits_for_first_boot_to_be_over(mc: dict[str, Any]) -> None:
    assert "ConditionFirstBoot=no" in units_of(mc)[SWAP_UNIT]["contents"]


def test_nothing_prepared_changes_nothing(node: Sandbox, mc: dict[str, Any]) -> None:
    """Acceptance: a default opt-in writes no swap file and touches no block device."""
    before = node.tree()
    run_swap_unit(node, mc)
    assert_formats_nothing(node)
    assert swapons(node) == []
    assert node.tree() == before


def test_nothing_prepared_in_dry_run(node: Sandbox, mc: dict[str, Any]) -> None:
    before = node.tree()
    run_swap_unit(node, mc, "--dry-run")
    assert node.calls() == [] or node.commands() <= {"blkid"}
    assert node.tree() == before


def test_a_filesystem_labelled_ocpswap_is_never_formatted(
    node: Sandbox, mc: dict[str, Any]
) -> None:
    """A *filesystem* label OCPSWAP (what ``blkid -L`` finds) is somebody's data."""
    node.write("/dev/sdb1", xfs_filesystem())
    node.reply("blkid",
               {"match": ["-L", "OCPSWAP"], "stdout": "/dev/sdb1\n"},
               {"match": ["-o", "value", "-s", "TYPE"], "stdout": "xfs\n"},
               {"match": [], "stdout": "", "rc": 2})
    before = node.tree()
    run_swap_unit(node, mc)
    assert_formats_nothing(node)
    assert swapons(node) == []
    assert node.tree() == before


def test_an_ocpswap_partition_holding_a_filesystem_is_left_alone(
    node: Sandbox, mc: dict[str, Any]
) -> None:
    node.write("/dev/sdb1", xfs_filesystem())
    node.symlink(PARTLABEL, "../../sdb1")
    before = node.tree()
    run_swap_unit(node, mc)
    assert_formats_nothing(node)
    assert swapons(node) == []
    assert node.tree() == before


def test_a_prepared_partition_is_activated_at_priority_100(
    node: Sandbox, mc: dict[str, Any]
) -> None:
    node.write("/dev/sdb1", swap_header())
    node.symlink(PARTLABEL, "../../sdb1")
    before = node.tree()
    run_swap_unit(node, mc)
    assert_formats_nothing(node)
    assert swapons(node) == [["swapon", "--priority", "100", PARTLABEL]]
    assert node.tree() == before


def test_a_prepared_swap_file_is_activated_at_priority_10(
    node: Sandbox, mc: dict[str, Any]
) -> None:
    node.write(SWAP_FILE, swap_header(), mode=0o600)
    before = node.tree()
    run_swap_unit(node, mc)
    assert_formats_nothing(node)
    assert swapons(node) == [["swapon", "--priority", "10", SWAP_FILE]]
    assert node.tree() == before


def test_active_swap_is_not_activated_again(node: Sandbox, mc: dict[str, Any]) -> None:
    node.write("/dev/sdb1", swap_header())
    node.symlink(PARTLABEL, "../../sdb1")
    node.write("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n"
                              "/dev/sdb1\tpartition\t8388604\t0\t100\n")
    run_swap_unit(node, mc)
    assert swapons(node) == []
    assert_formats_nothing(node)


def test_dry_run_on_a_prepared_node_activates_nothing(node: Sandbox, mc: dict[str, Any]) -> None:
    node.write("/dev/sdb1", swap_header())
    node.symlink(PARTLABEL, "../../sdb1")
    node.write(SWAP_FILE, swap_header(), mode=0o600)
    before = node.tree()
    run_swap_unit(node, mc, "--dry-run")
    assert swapons(node) == []
    assert_formats_nothing(node)
    assert node.tree() == before
