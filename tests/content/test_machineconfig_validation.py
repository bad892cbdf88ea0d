"""Every rendered MachineConfig, checked for what the MCO's own checks do not cover.

The MCO's own code checks every MachineConfig and KubeletConfig in
test_mco_check.py (strict decoding, Ignition validation and conversion, whether the
daemon can apply it, the pool and the node action). What this module adds is the
project's own rules for content that runs as root on production nodes, which the MCO
accepts either way: the oldest Ignition version every supported MCO reads, only the
two sections the content needs, /usr kept read-only, file modes by purpose, units
that systemd itself verifies, scripts shipped with the unit that runs them, and
kernel arguments without duplicates. Checked for every MachineConfig any variant of
the golden state renders:

* Ignition spec version: 3.2.0, the newest version every MCO since OpenShift 4.6
  accepts (newer MCOs accept up to 3.4/3.5, older ones stop at 3.2);
* only the sections the MCO applies (``storage.files``, ``systemd.units``);
* files: absolute normalised paths outside the read-only ``/usr`` (``/usr/local`` is
  writable on RHCOS), no duplicates, modes 0644 for configuration and 0755 for what a
  unit executes, never setuid or world-writable, ``data:`` URLs that decode (and
  gunzip when compressed) to UTF-8 text;
* systemd units: valid unit names, contents and drop-ins that ``systemd-analyze
  verify`` accepts without a single complaint (a strict parser test stands in where
  systemd-analyze is missing), ``[Install]`` on enabled units, every ``ExecStart``
  script shipped in the same MachineConfig;
* kernel arguments: ``key`` or ``key=value`` words, no whitespace or quotes, no
  duplicates.
"""

from __future__ import annotations

import gzip
import posixpath
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import all_on_contexts
from autopilot.golden.lookups import SnapshotLookups
from autopilot.golden.render import render_asset
from tests.support.node_sandbox import decode_source, exec_lines
from tests.support.rendering import load

MCO_IGNITION_VERSION = "3.2.0"
UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\@-]+\.(service|timer|slice|target|socket|mount|path)$")
KERNEL_ARG = re.compile(r"^[A-Za-z0-9_.-]+(=[^\s\"']+)?$")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")  # needs_tool fails the tests in CI without it
KNOWN_SECTIONS = {"Unit", "Service", "Install", "Timer", "Slice", "Login"}


def machineconfigs() -> dict[str, dict[str, Any]]:
    """Every MachineConfig the golden state renders, by name (all switches on)."""
    golden: GoldenState = load()
    # A cluster with a default StorageClass, so every asset renders (the LokiStack needs one).
    lookups = SnapshotLookups([{
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "standard", "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}}}])
    found: dict[str, dict[str, Any]] = {}
    for ctx in all_on_contexts(golden):
        for asset in golden.assets:
            for obj in render_asset(golden, asset, ctx, lookups=lookups):
                if obj["kind"] == "MachineConfig":
                    found.setdefault(obj["metadata"]["name"], obj)
    return found


MACHINECONFIGS = machineconfigs()
NAMES = sorted(MACHINECONFIGS)


def files_of(mc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(mc["spec"].get("config", {}).get("storage", {}).get("files", []))


def units_of(mc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(mc["spec"].get("config", {}).get("systemd", {}).get("units", []))


def decoded(entry: dict[str, Any]) -> bytes:
    contents = entry["contents"]
    data = decode_source(contents["source"])
    if contents.get("compression"):
        assert contents["compression"] == "gzip", contents["compression"]
        data = gzip.decompress(data)
    return data


def test_every_machineconfig_is_covered() -> None:
    assert {
        "90-worker-swap-online", "50-virt-pci-passthrough",
        "99-openshift-machineconfig-worker-psi-karg",
        "99-openshift-machineconfig-master-psi-karg", "99-worker-ksm-zero-only",
        "99-master-ksm-zero-only", "99-worker-thp-tuning", "99-master-thp-tuning",
        "99-worker-vm-drain-shutdown-inhibitor",
    } <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_ignition_version_and_sections(name: str) -> None:
    mc = MACHINECONFIGS[name]
    assert mc["apiVersion"] == "machineconfiguration.openshift.io/v1"
    role = mc["metadata"]["labels"]["machineconfiguration.openshift.io/role"]
    assert role == ("master" if "-master-" in name else "worker"), (name, role)
    assert set(mc["spec"]) <= {"config", "kernelArguments"}, sorted(mc["spec"])
    config = mc["spec"]["config"]
    assert config["ignition"] == {"version": MCO_IGNITION_VERSION}
    assert set(config) <= {"ignition", "storage", "systemd"}, sorted(config)
    assert set(config.get("storage", {})) <= {"files"}
    assert set(config.get("systemd", {})) <= {"units"}


@pytest.mark.parametrize("name", NAMES)
def test_files(name: str) -> None:
    mc = MACHINECONFIGS[name]
    executed = {
        word
        for unit in units_of(mc) if unit.get("contents")
        for line in exec_lines(unit["contents"])
        for word in line.split() if word.startswith("/usr/local/")
    }
    paths = [f["path"] for f in files_of(mc)]
    assert len(paths) == len(set(paths)), paths
    for entry in files_of(mc):
        path, mode = entry["path"], entry["mode"]
        assert path.startswith("/") and posixpath.normpath(path) == path, path
        assert not path.startswith("/usr/") or path.startswith("/usr/local/"), path
        assert set(entry) <= {"path", "mode", "overwrite", "contents"}, sorted(entry)
        assert isinstance(mode, int) and not mode & 0o7002, (path, oct(mode))
        assert mode == (0o755 if path in executed else 0o644), (path, oct(mode))
        text = decoded(entry).decode("utf-8")
        assert text.endswith("\n"), path
        if mode == 0o755:
            assert text.startswith("#!"), path
    assert executed <= set(paths), executed - set(paths)


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """A strict reading of a unit or drop-in: sections of key=value lines."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        header = re.fullmatch(r"\[([A-Za-z]+)\]", line)
        if header:
            current = header.group(1)
            assert current in KNOWN_SECTIONS, f"line {number}: section {current}"
            sections.setdefault(current, [])
            continue
        key, sep, value = line.partition("=")
        assert current is not None, f"line {number}: {line!r} outside a section"
        assert sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key), f"line {number}: {line!r}"
        assert value.strip(), f"line {number}: {key} has no value"
        sections[current].append((key, value))
    return sections


@pytest.mark.parametrize("name", NAMES)
def test_units_parse(name: str) -> None:
    for unit in units_of(MACHINECONFIGS[name]):
        assert UNIT_NAME.match(unit["name"]), unit["name"]
        assert set(unit) <= {"name", "enabled", "contents", "dropins", "mask"}, sorted(unit)
        assert unit.get("contents") or unit.get("dropins"), unit["name"]
        if unit.get("contents"):
            sections = parse_unit(unit["contents"])
            assert "Unit" in sections and any(k == "Description" for k, _ in sections["Unit"])
            if unit.get("enabled"):
                install = dict(sections.get("Install", []))
                assert {"WantedBy", "RequiredBy"} & set(install), unit["name"]
        for dropin in unit.get("dropins", []):
            assert dropin["name"].endswith(".conf"), dropin["name"]
            assert parse_unit(dropin["contents"]), dropin["name"]


def test_parser_rejects_what_systemd_would_complain_about() -> None:
    for bad in ("Description=x\n", "[Unit]\nDescription\n", "[Servce]\nType=oneshot\n",
                "[Unit]\nDescription=\n"):
        with pytest.raises(AssertionError):
            parse_unit(bad)


def write_units(mc: dict[str, Any], folder: Path) -> list[Path]:
    """Unit files and drop-in folders as a node would have them; the files to verify."""
    targets = []
    for unit in units_of(mc):
        path = folder / unit["name"]
        if unit.get("contents"):
            path.write_text(unit["contents"])
        else:  # a drop-in for a unit the node already has (system.slice, kubepods.slice)
            path.write_text("[Unit]\nDescription=stand-in for the node's own unit\n")
        for dropin in unit.get("dropins", []):
            (folder / f"{unit['name']}.d").mkdir(exist_ok=True)
            (folder / f"{unit['name']}.d" / dropin["name"]).write_text(dropin["contents"])
        targets.append(path)
    return targets


@pytest.mark.needs_tool("systemd-analyze")
@pytest.mark.parametrize("name", [n for n in NAMES if units_of(MACHINECONFIGS[n])])
def test_systemd_analyze_verify(name: str, tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    targets = write_units(MACHINECONFIGS[name], tmp_path)
    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *map(str, targets)],
        env={"SYSTEMD_UNIT_PATH": f"{tmp_path}:", "PATH": "/usr/bin:/bin",
             "SYSTEMD_LOG_LEVEL": "notice"},
        capture_output=True, text=True, timeout=60, check=False,
    )
    ours = [line for line in (proc.stdout + proc.stderr).splitlines()
            if str(tmp_path) in line or any(t.name in line for t in targets)]
    assert proc.returncode == 0 and ours == [], proc.stdout + proc.stderr


@pytest.mark.needs_tool("systemd-analyze")
def test_systemd_analyze_catches_a_bad_unit(tmp_path: Path) -> None:
    """Guard against a vacuous check: a typo must be reported."""
    mc = {"spec": {"config": {"systemd": {"units": [{
        "name": "typo.service", "enabled": True,
        "contents": "[Unit]\nDescription=x\n[Service]\nTyp=oneshot\nExecStart=/bin/true\n"}]}}}}
    targets = write_units(mc, tmp_path)
    assert SYSTEMD_ANALYZE is not None
    proc = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", *map(str, targets)],
                          env={"SYSTEMD_UNIT_PATH": f"{tmp_path}:", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert "Typ" in proc.stdout + proc.stderr


@pytest.mark.parametrize("name", NAMES)
def test_kernel_arguments(name: str) -> None:
    args = MACHINECONFIGS[name]["spec"].get("kernelArguments", [])
    assert isinstance(args, list)
    assert len(args) == len(set(args)), args
    for arg in args:
        assert isinstance(arg, str) and KERNEL_ARG.match(arg), arg
