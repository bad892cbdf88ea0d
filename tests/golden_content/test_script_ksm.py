"""ksm_zero_pages.py against a fake sysfs/procfs."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from .node_scripts import load_script, read, snapshot, write

script = load_script("ksm_zero_pages")
KSM = "/sys/kernel/mm/ksm"


def fake_node(root: Path, *, available_pct: int, smart_scan: bool = True) -> None:
    total = 100_000_000
    write(
        root,
        "/proc/meminfo",
        f"MemTotal: {total} kB\nMemFree: 1 kB\nMemAvailable: {total * available_pct // 100} kB\n",
    )
    defaults = {
        "run": "0",
        "use_zero_pages": "0",
        "merge_across_nodes": "1",
        "pages_to_scan": "100",
        "sleep_millisecs": "20",
    }
    if smart_scan:
        defaults["smart_scan"] = "0"
    for knob, value in defaults.items():
        write(root, f"{KSM}/{knob}", value + "\n")


@pytest.mark.parametrize(
    ("available_pct", "pages", "sleep_ms"),
    [(80, "100", "200"), (30, "500", "100"), (15, "1000", "50"), (5, "2000", "20")],
)
def test_scan_rate_follows_free_memory(
    tmp_path: Path, available_pct: int, pages: str, sleep_ms: str
) -> None:
    fake_node(tmp_path, available_pct=available_pct)
    assert script.main(["--root", str(tmp_path)]) == 0
    assert read(tmp_path, f"{KSM}/pages_to_scan").strip() == pages
    assert read(tmp_path, f"{KSM}/sleep_millisecs").strip() == sleep_ms
    assert read(tmp_path, f"{KSM}/use_zero_pages").strip() == "1"
    assert read(tmp_path, f"{KSM}/merge_across_nodes").strip() == "0"
    assert read(tmp_path, f"{KSM}/run").strip() == "1"


def test_idempotent(tmp_path: Path) -> None:
    fake_node(tmp_path, available_pct=50)
    assert script.run(root=str(tmp_path), dry_run=False) == 5
    before = snapshot(tmp_path)
    assert script.run(root=str(tmp_path), dry_run=False) == 0
    assert snapshot(tmp_path) == before


def test_dry_run_prints_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path, available_pct=5)
    before = snapshot(tmp_path)
    assert script.main(["--root", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would set use_zero_pages: 0 -> 1" in out
    assert "would set pages_to_scan: 100 -> 2000" in out
    assert "would set run: 0 -> 1" in out
    assert snapshot(tmp_path) == before


def test_older_kernel_without_smart_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path, available_pct=50, smart_scan=False)
    assert script.main(["--root", str(tmp_path)]) == 0
    assert "smart_scan: not offered by this kernel" in capsys.readouterr().out
    assert not (tmp_path / "sys/kernel/mm/ksm/smart_scan").exists()


def test_busy_merge_across_nodes_is_left_for_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path, available_pct=50)
    target = tmp_path / "sys/kernel/mm/ksm/merge_across_nodes"
    real_open = open

    def fake_open(path: object, mode: str = "r", **kwargs: object) -> object:
        if str(path) == str(target) and "w" in mode:
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real_open(path, mode, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", fake_open)
    assert script.main(["--root", str(tmp_path)]) == 0
    monkeypatch.undo()
    assert "merge_across_nodes: kernel busy" in capsys.readouterr().out
    assert read(tmp_path, f"{KSM}/merge_across_nodes").strip() == "1"
    assert read(tmp_path, f"{KSM}/run").strip() == "1"


def test_kernel_without_ksm_is_a_real_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "/proc/meminfo", "MemTotal: 10 kB\nMemAvailable: 5 kB\n")
    assert script.main(["--root", str(tmp_path)]) == 1
    assert "kernel built without KSM" in capsys.readouterr().out
