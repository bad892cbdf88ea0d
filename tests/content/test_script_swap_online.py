"""swap_online.py against fake node trees, with ``swapon`` replaced by a recorder."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support.node_scripts import load_script, snapshot, write

script = load_script("swap_online")
PARTLABEL = "/dev/disk/by-partlabel/OCPSWAP"
SWAP_FILE = "/var/tmp/ocpswap.file"


class Recorder:
    """Stands in for ``subprocess.run``: records argv, answers with ``rc``."""

    def __init__(self, rc: int = 0, stderr: str = "") -> None:
        self.calls: list[list[str]] = []
        self.rc = rc
        self.stderr = stderr

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        return subprocess.CompletedProcess(list(argv), self.rc, "", self.stderr)


def prepared(path: Path, *, page: int = 4096, magic: bytes = b"SWAPSPACE2") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(page - 10) + magic + bytes(64))


def node(root: Path, *, swaps: str = "") -> None:
    write(root, "/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n" + swaps)


def partition(root: Path, *, name: str = "nvme1n1p3", **kw: object) -> None:
    prepared(root / "dev" / name, **kw)  # type: ignore[arg-type]
    link = root / PARTLABEL.lstrip("/")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(f"../../{name}")


def swap_file(root: Path, *, mode: int = 0o600) -> Path:
    path = root / SWAP_FILE.lstrip("/")
    prepared(path)
    path.chmod(mode)
    return path


def test_nothing_prepared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node(tmp_path)
    run = Recorder()
    assert script.activate(root=str(tmp_path), dry_run=False, runner=run) == 0
    assert run.calls == []
    assert "no swap prepared" in capsys.readouterr().out


def test_no_proc_swaps_at_all_is_fine(tmp_path: Path) -> None:
    assert script.main(["--root", str(tmp_path)]) == 0


@pytest.mark.parametrize("page", [4096, 65536])
def test_both_prepared_are_activated(tmp_path: Path, page: int) -> None:
    node(tmp_path)
    partition(tmp_path, page=page)
    swap_file(tmp_path)
    run = Recorder()
    assert script.activate(root=str(tmp_path), dry_run=False, runner=run) == 0
    assert run.calls == [["swapon", "--priority", "100", PARTLABEL],
                         ["swapon", "--priority", "10", SWAP_FILE]]


def test_old_style_signature_counts(tmp_path: Path) -> None:
    node(tmp_path)
    partition(tmp_path, magic=b"SWAP-SPACE")
    run = Recorder()
    script.activate(root=str(tmp_path), dry_run=False, runner=run)
    assert run.calls == [["swapon", "--priority", "100", PARTLABEL]]


def test_already_active_is_idempotent(tmp_path: Path) -> None:
    node(tmp_path, swaps="/dev/nvme1n1p3\tpartition\t8388604\t0\t100\n"
                         "/var/tmp/ocpswap.file\tfile\t1048572\t0\t10\n")
    partition(tmp_path)
    swap_file(tmp_path)
    run = Recorder()
    assert script.activate(root=str(tmp_path), dry_run=False, runner=run) == 0
    assert run.calls == []


@pytest.mark.parametrize("content", [b"", b"XFSB" + bytes(8192), bytes(70000)])
def test_partition_without_signature_is_left_alone(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    node(tmp_path)
    write(tmp_path, "/dev/sdc1", "")
    (tmp_path / "dev/sdc1").write_bytes(content)
    (tmp_path / "dev/disk/by-partlabel").mkdir(parents=True)
    (tmp_path / PARTLABEL.lstrip("/")).symlink_to("../../sdc1")
    before = snapshot(tmp_path)
    run = Recorder()
    assert script.activate(root=str(tmp_path), dry_run=False, runner=run) == 0
    assert run.calls == []
    assert "carries no swap signature" in capsys.readouterr().out
    assert snapshot(tmp_path) == before


def test_dangling_partlabel_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node(tmp_path)
    (tmp_path / "dev/disk/by-partlabel").mkdir(parents=True)
    (tmp_path / PARTLABEL.lstrip("/")).symlink_to("../../gone")
    run = Recorder()
    assert script.activate(root=str(tmp_path), dry_run=False, runner=run) == 0
    assert run.calls == [] and "points nowhere" in capsys.readouterr().out


def test_readable_swap_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node(tmp_path)
    swap_file(tmp_path, mode=0o644)
    run = Recorder()
    assert script.activate(root=str(tmp_path), dry_run=False, runner=run) == 0
    assert run.calls == [] and "chmod 600" in capsys.readouterr().out


def test_symlinked_swap_file_is_refused(tmp_path: Path) -> None:
    node(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    prepared(elsewhere)
    elsewhere.chmod(0o600)
    (tmp_path / "var/tmp").mkdir(parents=True)
    (tmp_path / SWAP_FILE.lstrip("/")).symlink_to(elsewhere)
    run = Recorder()
    script.activate(root=str(tmp_path), dry_run=False, runner=run)
    assert run.calls == []


def test_unsigned_swap_file_is_left_alone(tmp_path: Path) -> None:
    node(tmp_path)
    path = tmp_path / SWAP_FILE.lstrip("/")
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(8192))
    path.chmod(0o600)
    run = Recorder()
    script.activate(root=str(tmp_path), dry_run=False, runner=run)
    assert run.calls == []


def test_dry_run_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node(tmp_path)
    partition(tmp_path)
    run = Recorder()
    assert script.activate(root=str(tmp_path), dry_run=True, runner=run) == 0
    assert run.calls == []
    assert f"would run: swapon --priority 100 {PARTLABEL}" in capsys.readouterr().out


def test_swapon_failure_is_a_real_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node(tmp_path)
    partition(tmp_path)
    swap_file(tmp_path)
    run = Recorder(rc=255, stderr="swapon: /dev/nvme1n1p3: swapon failed: Invalid argument")
    assert script.activate(root=str(tmp_path), dry_run=False, runner=run) == 2
    out = capsys.readouterr().out
    assert "error: swapon /dev/disk/by-partlabel/OCPSWAP failed (255)" in out
    assert len(run.calls) == 2  # one failure does not stop the other


def test_main_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node(tmp_path)
    partition(tmp_path)
    monkeypatch.setattr(script, "run_command", Recorder(rc=1))
    assert script.main(["--root", str(tmp_path)]) == 1
    monkeypatch.setattr(script, "run_command", Recorder(rc=0))
    assert script.main(["--root", str(tmp_path)]) == 0
