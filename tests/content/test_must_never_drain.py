"""The VM drain inhibitor, run as the node would run it, with every command stubbed.

It must shut the running guests down cleanly when logind announces a shutdown - take a
delay inhibitor lock, see PrepareForShutdown, ``virsh shutdown`` each domain inside its
virt-launcher container, then let go - and must never destroy a guest, stop the node
itself or touch a disk. Where there is nothing to drain it does nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from tests.support.node_sandbox import FORMATTING, Sandbox
from tests.support.rendering import context, make_hco, one

UNIT = "vm-drain-shutdown-inhibitor.service"
NEVER = FORMATTING | {"reboot", "shutdown", "poweroff", "halt", "kill", "pkill", "rm"}
SIGNAL = {"type": "signal", "path": "/org/freedesktop/login1",
          "interface": "org.freedesktop.login1.Manager", "member": "PrepareForShutdown"}
PS = ["ps", "--state", "Running", "--name", "^compute$", "-o", "json"]
LIST = ["virsh", "list", "--name", "--state-running"]


@pytest.fixture
def mc(golden: GoldenState) -> dict[str, Any]:
    hco = make_hco({"platform.kubevirt.io/enable-vm-drain-shutdown-inhibitor": "true"})
    return one(golden, "vm-drain-shutdown-inhibitor-machineconfig", context(hco))


def node_with_a_vm(tmp_path: Path, mc: dict[str, Any]) -> Sandbox:
    box = Sandbox(tmp_path)
    box.install(mc)
    shutdown_signal = json.dumps({**SIGNAL, "payload": {"type": "b", "data": [True]}})
    box.reply("busctl", {"match": [], "stdout": shutdown_signal + "\n"})
    containers = {"containers": [
        {"id": "c0ffee", "labels": {"io.kubernetes.pod.name": "virt-launcher-db-abcde"}},
        {"id": "beef", "labels": {"io.kubernetes.pod.name": "web-compute-1"}},
    ]}
    box.reply("crictl",
              {"match": PS, "stdout": json.dumps(containers)},
              # running until asked to shut down, then gone
              {"match": ["exec", "c0ffee", *LIST], "stdout": "prod_db\n", "once": True},
              {"match": ["exec", "c0ffee", *LIST], "stdout": ""})
    return box


def crictl_execs(box: Sandbox) -> list[list[str]]:
    return [c[1:] for c in box.calls() if c[:2] == ["crictl", "exec"]]


def test_a_shutdown_stops_each_guest_cleanly(tmp_path: Path, mc: dict[str, Any]) -> None:
    box = node_with_a_vm(tmp_path, mc)
    before = box.tree()
    [proc] = box.run_unit(mc, UNIT, extra=("--interval", "0.05"))
    # The service serves until stopped; here the stubbed busctl ends its stream after
    # the one signal, which is the only error it may report (exit 1, so systemd's
    # Restart=on-failure re-arms it on a node).
    errors = [line for line in proc.stdout.splitlines() if "error" in line]
    assert (proc.returncode, errors) == (
        1, ["vm-drain-inhibitor: error: logind's PrepareForShutdown stream ended"]), (
        proc.stdout + proc.stderr)
    assert "the node may power off" in proc.stdout, proc.stdout
    calls = box.calls()
    inhibit = [c for c in calls if c[0] == "systemd-inhibit"]
    assert inhibit and "--mode=delay" in inhibit[0] and "--what=shutdown" in inhibit[0]
    assert any(c[0] == "busctl" and "monitor" in c for c in calls)
    assert ["exec", "c0ffee", "virsh", "shutdown", "prod_db"] in crictl_execs(box)
    assert not any(c[1] == "beef" for c in crictl_execs(box))  # not a virt-launcher
    assert not any("destroy" in c for c in calls)
    assert {c[0] for c in calls} & NEVER == set()
    assert box.tree() == before


def test_dry_run_with_nothing_to_drain(tmp_path: Path, mc: dict[str, Any]) -> None:
    """No crictl answer, no virtual machines: exit 0, no lock, nothing touched."""
    box = Sandbox(tmp_path)
    box.install(mc)
    box.reply("crictl", {"match": [], "stdout": "", "rc": 1})
    before = box.tree()
    [proc] = box.run_unit(mc, UNIT, extra=("--dry-run",))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "systemd-inhibit" not in box.commands()
    assert not any("shutdown" in c for c in crictl_execs(box))
    assert box.commands() & NEVER == set()
    assert box.tree() == before


def test_dry_run_lists_without_shutting_down(tmp_path: Path, mc: dict[str, Any]) -> None:
    box = node_with_a_vm(tmp_path, mc)
    [proc] = box.run_unit(mc, UNIT, extra=("--dry-run",))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "prod_db" in proc.stdout
    assert not any("shutdown" in c for c in crictl_execs(box))
    assert "systemd-inhibit" not in box.commands()
