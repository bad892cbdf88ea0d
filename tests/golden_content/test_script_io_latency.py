"""io_latency_protection.py against a fake cgroup v2 and sysfs tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from .node_scripts import load_script, read, snapshot, write

script = load_script("io_latency_protection")
LATENCY = "/sys/fs/cgroup/system.slice/io.latency"


def disk(root: Path, name: str, *, devno: str, rotational: bool, size: int = 1000) -> None:
    write(root, f"/sys/block/{name}/dev", f"{devno}\n")
    write(root, f"/sys/block/{name}/size", f"{size}\n")
    write(root, f"/sys/block/{name}/queue/rotational", "1\n" if rotational else "0\n")


def cgroup_v2(root: Path, *, latency: bool = True) -> None:
    write(root, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n")
    if latency:
        write(root, LATENCY, "")
    else:
        write(root, "/sys/fs/cgroup/system.slice/io.weight", "default 100\n")


def test_sets_target_and_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cgroup_v2(tmp_path)
    disk(tmp_path, "nvme0n1", devno="259:0", rotational=False)
    assert script.main(["--root", str(tmp_path)]) == 0
    assert read(tmp_path, LATENCY) == "259:0 target=5000\n"
    assert "set system.slice nvme0n1 (259:0) io.latency target=5000" in capsys.readouterr().out
    before = snapshot(tmp_path)
    assert script.run(root=str(tmp_path), slices=["system.slice"], dry_run=False) == 0
    assert snapshot(tmp_path) == before


def test_one_write_per_physical_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cgroup_v2(tmp_path)
    disk(tmp_path, "sda", devno="8:0", rotational=True)
    disk(tmp_path, "vdb", devno="252:16", rotational=False)
    disk(tmp_path, "loop0", devno="7:0", rotational=False)
    disk(tmp_path, "dm-0", devno="253:0", rotational=False)
    disk(tmp_path, "sdz", devno="8:400", rotational=True, size=0)
    writes: list[tuple[str, str]] = []
    monkeypatch.setattr(script, "write_control", lambda path, value: writes.append((path, value)))
    assert script.run(root=str(tmp_path), slices=["system.slice"], dry_run=False) == 2
    assert [v for _, v in writes] == ["8:0 target=50000", "252:16 target=5000"]


def test_dry_run_prints_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cgroup_v2(tmp_path)
    disk(tmp_path, "sda", devno="8:0", rotational=True)
    before = snapshot(tmp_path)
    assert script.main(["--root", str(tmp_path), "--dry-run"]) == 0
    assert "would set system.slice sda (8:0) io.latency target=50000" in capsys.readouterr().out
    assert snapshot(tmp_path) == before


def test_weight_fallback_without_iolatency(tmp_path: Path) -> None:
    cgroup_v2(tmp_path, latency=False)
    disk(tmp_path, "sda", devno="8:0", rotational=True)
    assert script.run(root=str(tmp_path), slices=["system.slice"], dry_run=False) == 1
    assert read(tmp_path, "/sys/fs/cgroup/system.slice/io.weight") == "default 500\n"
    assert script.run(root=str(tmp_path), slices=["system.slice"], dry_run=False) == 0


def test_cgroup_v1_is_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert script.main(["--root", str(tmp_path)]) == 0
    assert "cgroup v2 is not mounted" in capsys.readouterr().out


def test_permission_denied_is_a_real_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cgroup_v2(tmp_path)
    disk(tmp_path, "sda", devno="8:0", rotational=True)

    def denied(path: str, value: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(script, "write_control", denied)
    assert script.main(["--root", str(tmp_path)]) == 1
    assert "error: cannot write" in capsys.readouterr().out
