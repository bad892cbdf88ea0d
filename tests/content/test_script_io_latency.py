"""io_latency_protection.py against fake sysfs/procfs trees."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support.node_scripts import (
    assert_rerun_writes_nothing,
    load_script,
    read,
    snapshot,
    write,
)

script = load_script("io_latency_protection")
SYSTEM = "/run/systemd/system/system.slice.d/90-io-latency.conf"
PODS = "/run/systemd/system/kubepods.slice.d/90-io-latency.conf"


class Recorder:
    def __init__(self, rc: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.rc = rc

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        return subprocess.CompletedProcess(list(argv), self.rc, "", "no bus")


def disk(root: Path, name: str, devno: str, *partitions: tuple[str, str]) -> None:
    write(root, f"/sys/class/block/{name}/dev", devno + "\n")
    (root / f"sys/block/{name}").mkdir(parents=True, exist_ok=True)
    for part, part_devno in partitions:
        write(root, f"/sys/class/block/{part}/dev", part_devno + "\n")
        write(root, f"/sys/class/block/{part}/partition", "1\n")
        (root / f"sys/block/{name}/{part}").mkdir(parents=True)


def mapper(root: Path, name: str, devno: str, *slaves: str) -> None:
    write(root, f"/sys/class/block/{name}/dev", devno + "\n")
    (root / f"sys/block/{name}").mkdir(parents=True, exist_ok=True)
    for slave in slaves:
        (root / f"sys/class/block/{name}/slaves/{slave}").mkdir(parents=True)


def mounts(root: Path, *entries: tuple[str, str, str]) -> None:
    lines = [f"{20 + i} 1 {devno} / {point} rw,relatime - {fs} /dev/x rw"
             for i, (point, devno, fs) in enumerate(entries)]
    write(root, "/proc/self/mountinfo", "\n".join(lines) + "\n")


def swaps(root: Path, *entries: tuple[str, str]) -> None:
    rows = [f"{path}\t{kind}\t8388604\t0\t100" for path, kind in entries]
    write(root, "/proc/swaps", "\n".join(["Filename\tType\tSize\tUsed\tPriority", *rows]) + "\n")


def rhcos(root: Path) -> None:
    """RHCOS-like: composefs /, LUKS /sysroot and /var on sda4, swap on an NVMe partition."""
    write(root, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n")
    disk(root, "sda", "8:0", ("sda3", "8:3"), ("sda4", "8:4"))
    disk(root, "nvme0n1", "259:0", ("nvme0n1p3", "259:3"))
    disk(root, "sdb", "8:16")  # an unrelated data disk
    mapper(root, "dm-0", "253:0", "sda4")
    write(root, "/sys/class/block/loop0/dev", "7:0\n")
    mounts(root, ("/", "0:31", "overlay"), ("/sysroot", "253:0", "xfs"),
           ("/var", "253:0", "xfs"), ("/boot", "8:3", "ext4"), ("/mnt/data", "8:16", "xfs"))
    swaps(root, ("/dev/nvme0n1p3", "partition"), ("/var/tmp/ocpswap.file", "file"))
    write(root, "/dev/nvme0n1p3", "")


def test_finds_the_disks_behind_root_and_swap(tmp_path: Path) -> None:
    rhcos(tmp_path)
    assert script.protected_disks(str(tmp_path)) == ["nvme0n1", "sda"]


def test_md_raid_resolves_to_every_member(tmp_path: Path) -> None:
    disk(tmp_path, "sda", "8:0", ("sda1", "8:1"))
    disk(tmp_path, "sdb", "8:16", ("sdb1", "8:17"))
    mapper(tmp_path, "md0", "9:0", "sda1", "sdb1")
    mapper(tmp_path, "dm-1", "253:1", "md0")  # LUKS on RAID
    mounts(tmp_path, ("/sysroot", "253:1", "xfs"))
    assert script.protected_disks(str(tmp_path)) == ["sda", "sdb"]


def test_writes_dropins_and_reloads_then_is_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rhcos(tmp_path)
    run = Recorder()
    assert script.run(root=str(tmp_path), dry_run=False, runner=run) == 2
    assert run.calls == [["systemctl", "daemon-reload"]]
    system = read(tmp_path, SYSTEM)
    assert "[Slice]" in system
    assert [line for line in system.splitlines() if line.startswith("IODevice")] == [
        "IODeviceLatencyTargetSec=/dev/nvme0n1 5ms", "IODeviceLatencyTargetSec=/dev/sda 5ms"]
    pods = read(tmp_path, PODS)
    assert "IODeviceLatencyTargetSec=/dev/sda 50ms" in pods
    assert "disks behind root and swap: nvme0n1, sda" in capsys.readouterr().out
    again = Recorder()
    assert_rerun_writes_nothing(script, tmp_path, runner=again)
    assert again.calls == []


def test_dry_run_prints_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rhcos(tmp_path)
    before = snapshot(tmp_path)
    run = Recorder()
    assert script.run(root=str(tmp_path), dry_run=True, runner=run) == 2
    assert run.calls == [] and snapshot(tmp_path) == before
    assert "would write system.slice latency target 5ms for nvme0n1, sda" in \
        capsys.readouterr().out


def test_cgroup_v1_is_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert script.main(["--root", str(tmp_path)]) == 0
    assert "cgroup v2 is not mounted" in capsys.readouterr().out


def test_no_disk_found_is_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "/sys/fs/cgroup/cgroup.controllers", "io\n")
    mounts(tmp_path, ("/", "0:31", "overlay"))
    assert script.main(["--root", str(tmp_path)]) == 0
    assert "no disk found" in capsys.readouterr().out


def test_failed_daemon_reload_is_a_real_error(tmp_path: Path) -> None:
    rhcos(tmp_path)
    with pytest.raises(script.ProtectionError, match="daemon-reload failed"):
        script.run(root=str(tmp_path), dry_run=False, runner=Recorder(rc=1))
