"""ksm_zero_pages.py against a fake sysfs/procfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.node_scripts import (
    assert_rerun_writes_nothing,
    dry_run_output,
    load_script,
    read,
    snapshot,
    write,
)

script = load_script("ksm_zero_pages")
KSM = "/sys/kernel/mm/ksm"
GIB_KB = 1024 * 1024


def fake_node(root: Path, *, mem_gib: int = 64, smart_scan: bool = True,
              zero_only: bool = True) -> None:
    total = mem_gib * GIB_KB
    write(root, "/proc/meminfo", f"MemTotal: {total} kB\nMemAvailable: {total // 2} kB\n")
    defaults = {"run": "0", "use_zero_pages": "0", "merge_across_nodes": "1",
                "pages_to_scan": "100", "sleep_millisecs": "20"}
    if smart_scan:
        defaults["smart_scan"] = "0"
    if zero_only:
        defaults["redhat_only_zero_pages"] = "0"
    for knob, value in defaults.items():
        write(root, f"{KSM}/{knob}", value + "\n")


@pytest.mark.parametrize(
    ("mem_gib", "sleep_ms"),
    [(16, 50), (256, 50), (512, 50), (1024, 26), (2048, 13), (8192, 10)],
)
def test_scan_rate_follows_node_memory(tmp_path: Path, mem_gib: int, sleep_ms: int) -> None:
    fake_node(tmp_path, mem_gib=mem_gib)
    assert script.main(["--root", str(tmp_path)]) == 0
    assert read(tmp_path, f"{KSM}/pages_to_scan").strip() == "1000"
    assert read(tmp_path, f"{KSM}/sleep_millisecs").strip() == str(sleep_ms)
    # One sweep of all memory: at most about two hours wherever the 10 ms floor allows.
    pages = mem_gib * GIB_KB // 4
    sweep = pages / (1000 * 1000 / sleep_ms)
    assert sweep <= 7300 or sleep_ms == 10


def test_zero_pages_only_then_started(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_node(tmp_path)
    assert script.main(["--root", str(tmp_path)]) == 0
    for knob, value in (("redhat_only_zero_pages", "1"), ("smart_scan", "1"), ("run", "1")):
        assert read(tmp_path, f"{KSM}/{knob}").strip() == value, knob
    # Not ours: merged zero pages would vanish from pages_sharing, which the ksmd
    # collector reports.
    assert read(tmp_path, f"{KSM}/use_zero_pages").strip() == "0"
    # merge_across_nodes is not ours: changing it needs an empty stable tree.
    assert read(tmp_path, f"{KSM}/merge_across_nodes").strip() == "1"
    out = capsys.readouterr().out
    assert out.index("set redhat_only_zero_pages") < out.index("set run: 0 -> 1")


def test_idempotent(tmp_path: Path) -> None:
    fake_node(tmp_path)
    assert script.run(root=str(tmp_path), dry_run=False) == 5
    assert_rerun_writes_nothing(script, tmp_path)


def test_dry_run_prints_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path)
    out = dry_run_output(script, tmp_path, capsys)
    assert "would set redhat_only_zero_pages: 0 -> 1" in out
    assert "would set run: 0 -> 1" in out


def test_older_kernel_without_smart_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path, smart_scan=False)
    assert script.main(["--root", str(tmp_path)]) == 0
    assert "smart_scan: not offered by this kernel" in capsys.readouterr().out
    assert not (tmp_path / "sys/kernel/mm/ksm/smart_scan").exists()
    assert read(tmp_path, f"{KSM}/run").strip() == "1"


def test_no_zero_page_restriction_no_ksm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path, zero_only=False)
    before = snapshot(tmp_path)
    assert script.main(["--root", str(tmp_path)]) == 0
    assert "cannot be restricted to zero pages" in capsys.readouterr().out
    assert snapshot(tmp_path) == before


def test_restriction_that_does_not_stick_stops_before_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path)
    real_read = script.read_knob
    monkeypatch.setattr(script, "read_knob",
                        lambda path: "0" if path.endswith("redhat_only_zero_pages")
                        else real_read(path))
    assert script.main(["--root", str(tmp_path)]) == 1
    assert "did not stay at 1" in capsys.readouterr().out
    assert read(tmp_path, f"{KSM}/run").strip() == "0"


def test_kernel_without_ksm_is_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "/proc/meminfo", "MemTotal: 10 kB\nMemAvailable: 5 kB\n")
    assert script.main(["--root", str(tmp_path)]) == 0
    assert "this kernel has no KSM" in capsys.readouterr().out


def test_unreadable_meminfo_is_a_real_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path)
    (tmp_path / "proc/meminfo").unlink()
    assert script.main(["--root", str(tmp_path)]) == 1
    assert "error: cannot read" in capsys.readouterr().out
