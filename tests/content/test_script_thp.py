"""thp_tuning.py against a fake sysfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.node_scripts import (
    assert_rerun_writes_nothing,
    dry_run_output,
    load_script,
    read,
    write,
)

script = load_script("thp_tuning")
THP = "/sys/kernel/mm/transparent_hugepage"


def fake_node(root: Path, *, mem_gib: int = 64) -> None:
    write(root, "/proc/meminfo", f"MemTotal: {mem_gib * 1024 * 1024} kB\n")
    write(root, f"{THP}/enabled", "[always] madvise never\n")
    write(root, f"{THP}/defrag", "always defer defer+madvise [madvise] never\n")
    write(root, f"{THP}/shmem_enabled", "always within_size advise [never] deny force\n")
    write(root, f"{THP}/khugepaged/defrag", "1\n")
    write(root, f"{THP}/khugepaged/pages_to_scan", "4096\n")
    write(root, f"{THP}/khugepaged/scan_sleep_millisecs", "10000\n")
    write(root, f"{THP}/khugepaged/alloc_sleep_millisecs", "60000\n")


def mark_selected(root: Path) -> None:
    """Mimic the kernel: after a write the file shows the choice list with the new selection."""
    for knob, offered in (
        ("enabled", "always madvise never"),
        ("defrag", "always defer defer+madvise madvise never"),
        ("shmem_enabled", "always within_size advise never deny force"),
    ):
        value = read(root, f"{THP}/{knob}").strip()
        if "[" not in value:
            words = [f"[{w}]" if w == value else w for w in offered.split()]
            write(root, f"{THP}/{knob}", " ".join(words) + "\n")


def test_applies_kvm_settings_then_is_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path)
    assert script.main(["--root", str(tmp_path)]) == 0
    assert read(tmp_path, f"{THP}/enabled") == "madvise\n"
    # The reference's settings only: defrag, shmem and allocation retries stay the kernel's.
    assert read(tmp_path, f"{THP}/defrag") == "always defer defer+madvise [madvise] never\n"
    assert read(tmp_path, f"{THP}/shmem_enabled") == \
        "always within_size advise [never] deny force\n"
    assert read(tmp_path, f"{THP}/khugepaged/defrag") == "1\n"
    assert read(tmp_path, f"{THP}/khugepaged/scan_sleep_millisecs") == "2000\n"  # 64 GiB
    assert read(tmp_path, f"{THP}/khugepaged/pages_to_scan") == "130000\n"
    assert read(tmp_path, f"{THP}/khugepaged/alloc_sleep_millisecs") == "60000\n"
    assert "set enabled: always -> madvise" in capsys.readouterr().out

    mark_selected(tmp_path)
    assert_rerun_writes_nothing(script, tmp_path)


def test_dry_run_prints_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path)
    out = dry_run_output(script, tmp_path, capsys)
    assert "would set enabled: always -> madvise" in out
    assert "defrag" not in out and "shmem" not in out
    assert "would set khugepaged/scan_sleep_millisecs: 10000 -> 2000" in out


def test_choice_not_offered_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_node(tmp_path)
    write(tmp_path, f"{THP}/enabled", "[always] never\n")
    assert script.main(["--root", str(tmp_path)]) == 0
    assert "kernel does not offer 'madvise'" in capsys.readouterr().out
    assert read(tmp_path, f"{THP}/enabled") == "[always] never\n"


@pytest.mark.parametrize(("mem_gib", "sleep_ms"), [(16, 5000), (64, 2000), (1024, 1062)])
def test_khugepaged_wakes_more_often_on_larger_nodes(
    tmp_path: Path, mem_gib: int, sleep_ms: int
) -> None:
    fake_node(tmp_path, mem_gib=mem_gib)
    assert script.main(["--root", str(tmp_path)]) == 0
    assert read(tmp_path, f"{THP}/khugepaged/scan_sleep_millisecs") == f"{sleep_ms}\n"


def test_an_administrators_faster_khugepaged_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path)
    write(tmp_path, f"{THP}/khugepaged/pages_to_scan", "262144\n")
    write(tmp_path, f"{THP}/khugepaged/scan_sleep_millisecs", "500\n")
    assert script.main(["--root", str(tmp_path)]) == 0
    assert read(tmp_path, f"{THP}/khugepaged/pages_to_scan") == "262144\n"
    assert read(tmp_path, f"{THP}/khugepaged/scan_sleep_millisecs") == "500\n"
    assert "keeping the administrator's value" in capsys.readouterr().out


def test_kernel_without_thp_is_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert script.main(["--root", str(tmp_path)]) == 0
    assert "has no transparent huge pages" in capsys.readouterr().out
