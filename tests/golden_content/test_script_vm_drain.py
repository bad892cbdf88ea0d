"""vm_drain_inhibitor.py against a fake procfs, with a fake clock instead of sleeping."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .node_scripts import load_script, snapshot, write

script = load_script("vm_drain_inhibitor")


def process(root: Path, pid: int, *, comm: str, argv: list[str]) -> None:
    write(root, f"/proc/{pid}/comm", comm + "\n")
    (root / f"proc/{pid}/cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")


class FakeClock:
    """Advances time on sleep and runs a hook per poll, so no test ever really waits."""

    def __init__(self, on_sleep: object = None) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if callable(self.on_sleep):
            self.on_sleep(len(self.sleeps))


def node_with_vms(root: Path) -> None:
    process(root, 1, comm="systemd", argv=["/usr/lib/systemd/systemd"])
    process(root, 4242, comm="virt-launcher", argv=["/usr/bin/virt-launcher", "--name", "vm1"])
    process(root, 4300, comm="qemu-kvm", argv=["/usr/libexec/qemu-kvm", "-name", "vm1"])
    process(root, 5000, comm="CPU 0/KVM", argv=["/usr/bin/qemu-system-x86_64"])
    write(root, "/proc/meminfo", "MemTotal: 1 kB\n")


def test_finds_vm_processes(tmp_path: Path) -> None:
    node_with_vms(tmp_path)
    assert script.vm_processes(str(tmp_path)) == [
        (4242, "virt-launcher"),
        (4300, "qemu-kvm"),
        (5000, "qemu-system-x86_64"),
    ]


def test_waits_until_vms_are_gone(tmp_path: Path) -> None:
    node_with_vms(tmp_path)

    def drain(poll: int) -> None:
        if poll == 3:
            for pid in (4242, 4300, 5000):
                shutil.rmtree(tmp_path / f"proc/{pid}")

    fake = FakeClock(drain)
    drained = script.wait_for_drain(
        root=str(tmp_path), timeout=120, interval=2, sleep=fake.sleep, clock=fake.clock
    )
    assert drained is True
    assert fake.sleeps == [2, 2, 2]


def test_gives_up_after_the_timeout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node_with_vms(tmp_path)
    fake = FakeClock()
    drained = script.wait_for_drain(
        root=str(tmp_path), timeout=120, interval=2, sleep=fake.sleep, clock=fake.clock
    )
    assert drained is False
    assert len(fake.sleeps) == 60 and fake.now == 120
    assert "still running after 120s" in capsys.readouterr().out


def test_no_vms_returns_at_once(tmp_path: Path) -> None:
    process(tmp_path, 1, comm="systemd", argv=["/usr/lib/systemd/systemd"])
    assert script.main(["--root", str(tmp_path)]) == 0


def test_dry_run_lists_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node_with_vms(tmp_path)
    before = snapshot(tmp_path)
    assert script.main(["--root", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would wait up to 120s for: virt-launcher[4242], qemu-kvm[4300]" in out
    assert snapshot(tmp_path) == before


def test_unreadable_proc_is_a_real_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert script.main(["--root", str(tmp_path / "missing")]) == 1
    assert "error: cannot list" in capsys.readouterr().out
