"""swap_watermark_tuning.py against a fake procfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from .node_scripts import load_script, read, snapshot, write

script = load_script("swap_watermark_tuning")
GIB_KB = 1024 * 1024


def fake_node(root: Path, *, mem_kb: int, min_free: int = 67584, scale: int = 10) -> None:
    write(root, "/proc/meminfo", f"MemTotal:       {mem_kb} kB\nMemFree:  1000 kB\n")
    write(root, "/proc/sys/vm/min_free_kbytes", f"{min_free}\n")
    write(root, "/proc/sys/vm/watermark_scale_factor", f"{scale}\n")


@pytest.mark.parametrize(
    ("mem_kb", "min_free", "scale"),
    [
        (8 * GIB_KB, 65536, 100),  # floor of 64 MiB; 1 % gap
        (64 * GIB_KB, 335544, 100),  # 0.5 % of RAM
        (512 * GIB_KB, 1048576, 78),  # 1 GiB ceiling; 4 GiB gap cap -> 0.78 %
        (4096 * GIB_KB, 1048576, 10),  # factor floor
    ],
)
def test_targets_scale_with_memory(mem_kb: int, min_free: int, scale: int) -> None:
    assert script.desired_min_free_kb(mem_kb) == min_free
    assert script.desired_scale_factor(mem_kb) == scale


def test_applies_then_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_node(tmp_path, mem_kb=64 * GIB_KB)
    assert script.main(["--root", str(tmp_path)]) == 0
    assert read(tmp_path, "/proc/sys/vm/min_free_kbytes").strip() == "335544"
    assert read(tmp_path, "/proc/sys/vm/watermark_scale_factor").strip() == "100"
    assert "set vm.min_free_kbytes: 67584 -> 335544" in capsys.readouterr().out

    before = snapshot(tmp_path)
    assert script.run(root=str(tmp_path), dry_run=False) == 0
    assert snapshot(tmp_path) == before


def test_dry_run_prints_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path, mem_kb=64 * GIB_KB)
    before = snapshot(tmp_path)
    assert script.main(["--root", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would set vm.min_free_kbytes: 67584 -> 335544" in out
    assert "would set vm.watermark_scale_factor: 10 -> 100" in out
    assert snapshot(tmp_path) == before


def test_never_lowers_a_larger_min_free(tmp_path: Path) -> None:
    fake_node(tmp_path, mem_kb=8 * GIB_KB, min_free=500000, scale=100)
    assert script.run(root=str(tmp_path), dry_run=False) == 0
    assert read(tmp_path, "/proc/sys/vm/min_free_kbytes").strip() == "500000"


def test_missing_procfs_is_a_real_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert script.main(["--root", str(tmp_path)]) == 1
    assert "error: cannot read MemTotal" in capsys.readouterr().out
