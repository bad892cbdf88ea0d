"""swap_watermark_tuning.py against a fake procfs and kubelet configuration."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from tests.support.node_scripts import (
    assert_rerun_writes_nothing,
    dry_run_output,
    load_script,
    read,
    write,
)

script = load_script("swap_watermark_tuning")
GIB_KB = 1024 * 1024
MIB_KB = 1024
WSF = "/proc/sys/vm/watermark_scale_factor"


def fake_node(root: Path, *, mem_kb: int, min_free: int = 67584, scale: int = 10,
              kubelet: str | None = None, zoneinfo_low_pages: int | None = None) -> None:
    write(root, "/proc/meminfo", f"MemTotal:       {mem_kb} kB\nMemFree:  1000 kB\n")
    write(root, "/proc/sys/vm/min_free_kbytes", f"{min_free}\n")
    write(root, WSF, f"{scale}\n")
    if kubelet is not None:
        write(root, "/etc/kubernetes/kubelet.conf", kubelet)
    if zoneinfo_low_pages is not None:
        write(root, "/proc/zoneinfo",
              "Node 0, zone   Normal\n  pages free     1000\n        min      10\n"
              f"        low      {zoneinfo_low_pages}\n        high     30\n")


@pytest.mark.parametrize(
    ("text", "mem_kb", "expected"),
    [
        ("100Mi", 0, 100 * MIB_KB),
        ("1Gi", 0, GIB_KB),
        ('"500Mi"', 0, 500 * MIB_KB),
        ("1G", 0, 976562),
        ("104857600", 0, 102400),
        ("10%", 1000, 100),
        ("7.5%", 1000, 75),
        ("lots", 0, None),
    ],
)
def test_quantities(text: str, mem_kb: int, expected: int | None) -> None:
    assert script.quantity_kb(text, mem_kb=mem_kb) == expected


YAML_BLOCK = """apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
evictionSoft:
  memory.available: 5Gi
evictionHard:
  imagefs.available: 15%
  memory.available: "1Gi"   # raised by the admin
  nodefs.available: 10%
systemReserved:
  memory: 1Gi
"""


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (YAML_BLOCK, "1Gi"),
        ("evictionHard: {imagefs.available: 15%, memory.available: 300Mi}\n", "300Mi"),
        (json.dumps({"kind": "KubeletConfiguration",
                     "evictionHard": {"memory.available": "2Gi"},
                     "evictionSoft": {"memory.available": "9Gi"}}), "2Gi"),
        ("kind: KubeletConfiguration\nevictionHard:\n  nodefs.available: 10%\n", "100Mi"),
        ("kind: KubeletConfiguration\n", "100Mi"),
    ],
)
def test_eviction_threshold_from_the_kubelet_config(
    tmp_path: Path, config: str, expected: str
) -> None:
    write(tmp_path, "/etc/kubernetes/kubelet.conf", config)
    assert script.eviction_threshold(str(tmp_path)) == expected


def test_dropins_override_the_main_config(tmp_path: Path) -> None:
    write(tmp_path, "/etc/kubernetes/kubelet.conf", YAML_BLOCK)
    write(tmp_path, "/etc/openshift/kubelet.conf.d/20-admin.conf",
          "evictionHard:\n  memory.available: 3Gi\n")
    write(tmp_path, "/etc/openshift/kubelet.conf.d/90-swap.conf",
          "failSwapOn: false\nmemorySwap:\n  swapBehavior: LimitedSwap\n")
    assert script.eviction_threshold(str(tmp_path)) == "3Gi"


def test_no_kubelet_config_uses_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert script.eviction_threshold(str(tmp_path)) == "100Mi"
    assert "kubelet default" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mem_kb", "min_free", "eviction_kb", "factor"),
    [
        # 64 GiB, 100Mi eviction: LOW must reach 100Mi + 655 MiB (1 %).
        (64 * GIB_KB, 90112, 100 * MIB_KB, 102),
        # 16 GiB: the 256 MiB floor is larger than 1 %.
        (16 * GIB_KB, 67584, 100 * MIB_KB, 178),
        # 10 % eviction on 64 GiB: LOW at 11 % of RAM.
        (64 * GIB_KB, 90112, 64 * GIB_KB // 10, 1087),
        # A huge min_free already clears it: nothing needed.
        (8 * GIB_KB, 4 * GIB_KB, 100 * MIB_KB, 1),
    ],
)
def test_needed_factor(mem_kb: int, min_free: int, eviction_kb: int, factor: int) -> None:
    got = script.needed_factor(mem_kb=mem_kb, min_free_kb=min_free, eviction_kb=eviction_kb)
    assert got == factor
    low = min_free + max(min_free // 4, mem_kb * got // 10000)
    assert low >= eviction_kb + max(256 * MIB_KB, mem_kb // 100)


def test_raises_then_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_node(tmp_path, mem_kb=64 * GIB_KB, min_free=90112, kubelet=YAML_BLOCK,
              zoneinfo_low_pages=600000)
    assert script.main(["--root", str(tmp_path)]) == 0
    factor = int(read(tmp_path, WSF))
    assert factor == script.needed_factor(mem_kb=64 * GIB_KB, min_free_kb=90112,
                                          eviction_kb=GIB_KB)
    out = capsys.readouterr().out
    assert f"raised vm.watermark_scale_factor: 10 -> {factor}" in out
    assert "above the eviction threshold" in out
    assert_rerun_writes_nothing(script, tmp_path)


def test_warns_when_the_kernel_leaves_low_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path, mem_kb=64 * GIB_KB, kubelet=YAML_BLOCK, zoneinfo_low_pages=1000)
    assert script.main(["--root", str(tmp_path)]) == 0
    assert "warning: LOW watermark 4000 KiB is still at or below" in capsys.readouterr().out


def test_never_lowers(tmp_path: Path) -> None:
    fake_node(tmp_path, mem_kb=64 * GIB_KB, scale=2000, kubelet=YAML_BLOCK)
    assert script.run(root=str(tmp_path), dry_run=False) == 0
    assert read(tmp_path, WSF).strip() == "2000"


def test_dry_run_prints_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_node(tmp_path, mem_kb=64 * GIB_KB, min_free=90112)
    out = dry_run_output(script, tmp_path, capsys)
    assert "would raise vm.watermark_scale_factor: 10 -> 102" in out


def test_kernel_ceiling_falls_back_to_1000(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = "evictionHard:\n  memory.available: 20%\n"
    fake_node(tmp_path, mem_kb=64 * GIB_KB, kubelet=huge)
    target = str(tmp_path / WSF.lstrip("/"))
    real_open = open

    def old_kernel(path: object, mode: str = "r", **kwargs: object) -> object:
        if str(path) == target and "w" in mode:
            handle = real_open(path, mode, **kwargs)  # type: ignore[call-overload]
            real_write = handle.write

            def write_checked(text: str) -> int:
                if int(text) > 1000:
                    raise OSError(errno.EINVAL, "Invalid argument")
                return int(real_write(text))

            handle.write = write_checked
            return handle
        return real_open(path, mode, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", old_kernel)
    assert script.main(["--root", str(tmp_path)]) == 0
    monkeypatch.undo()
    assert read(tmp_path, WSF).strip() == "1000"
    assert "trying 1000" in capsys.readouterr().out


def test_missing_knob_is_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "/proc/meminfo", "MemTotal: 1000 kB\n")
    assert script.main(["--root", str(tmp_path)]) == 0
    assert "not offered by this kernel" in capsys.readouterr().out


def test_unreadable_procfs_is_a_real_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, WSF, "10\n")
    assert script.main(["--root", str(tmp_path)]) == 1
    assert "error: cannot read MemTotal" in capsys.readouterr().out
