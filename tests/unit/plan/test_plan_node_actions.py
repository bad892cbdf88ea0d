"""What a node does when a MachineConfig or KubeletConfig changes, checked against the MCO.

Our rules (:mod:`autopilot.plan.nodeaction`) must give the answer of the Machine Config
Operator's own code (``../shared/mco-check/run``, which reports what each node does when
the object is applied to a pool) for every MachineConfig and KubeletConfig the golden
state renders with every opt-in, and for one MachineConfig per path class the MCO knows.
Changes between two versions are checked against the MCO's documented rules.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from autopilot.golden.gate import parse_activation
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.plan import plan_all
from autopilot.plan.nodeaction import (
    NONE,
    REBOOT,
    RELOAD_CRIO,
    RESTART_CRIO,
    action_for,
    machineconfig_action,
)
from tests.support.cluster import require_shared
from tests.support.rendering import context, load, make_hco, make_nodes

P = "platform.kubevirt.io/"
EVERY_OPT_IN = {P + k: "true" for k in (
    "openshift", "enable-pci-passthrough", "enable-ksm-zero-only", "enable-thp-tuning",
    "enable-vm-drain-shutdown-inhibitor", "enable-kubelet-performance-settings")}
ROLE = "machineconfiguration.openshift.io/role"
PATHS = {
    "/etc/containers/registries.conf": RELOAD_CRIO,
    "/etc/containers/policy.json": RELOAD_CRIO,
    "/etc/containers/registries.d/example.yaml": RELOAD_CRIO,
    "/etc/machine-config-daemon/no-reboot/containers-gpg.pub": RELOAD_CRIO,
    "/etc/kubernetes/kubelet-ca.crt": NONE,
    "/var/lib/kubelet/config.json": NONE,
    "/etc/nmstate/openshift/example.yml": NONE,
    "/etc/pki/ca-trust/source/anchors/openshift-config-user-ca-bundle.crt": RESTART_CRIO,
    "/etc/sysctl.d/99-example.conf": REBOOT,
}
# "ok   MachineConfig/x: pool worker: on apply each node does reboot" or, for a
# KubeletConfig, "... each node reboots".
LINE = re.compile(r"^ok\s+(\w+)/(\S+): .*each node (?:does )?(reboot|reboots|reload crio|"
                  r"restart crio|none)$")


def machineconfig(name: str, *, files: tuple[str, ...] | list[str] = (),
                  units: tuple[str, ...] = (), kargs: tuple[str, ...] = (),
                  passwd: bool = False) -> dict[str, Any]:
    config: dict[str, Any] = {"ignition": {"version": "3.2.0"}}
    if files:
        config["storage"] = {"files": [{"path": p, "mode": 420,
                                        "contents": {"source": "data:,example"}} for p in files]}
    if units:
        config["systemd"] = {"units": [{"name": u, "enabled": True,
                                        "contents": "[Service]\nExecStart=/bin/true\n"}
                                       for u in units]}
    if passwd:
        config["passwd"] = {"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA"]}]}
    spec: dict[str, Any] = {"config": config}
    if kargs:
        spec["kernelArguments"] = list(kargs)
    return {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfig",
            "metadata": {"name": name, "labels": {ROLE: "worker"}}, "spec": spec}


def golden_node_objects() -> list[dict[str, Any]]:
    hco = make_hco(EVERY_OPT_IN, {"featureGates": [{"name": "CPUManager", "state": "Enabled"}]})
    ctx = context(hco, nodes=make_nodes(schedulable_masters=True, pci=True))
    plans = plan_all(load(), ctx, activation=parse_activation("true"), lookups=OfflineLookups())
    return [o for p in plans for o in p.objects if o["kind"] in ("MachineConfig", "KubeletConfig")]


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the checker's binary is unpacked, once for the module."""
    return tmp_path_factory.mktemp("mco-check")


def mco_check(objects: list[dict[str, Any]], tmp_path: Path,
              unpacked: Path) -> dict[tuple[str, str], str]:
    """The MCO's answer per object: what each node does when it is applied."""
    shared = require_shared()
    path = tmp_path / "objects.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    proc = subprocess.run([str(shared / "mco-check" / "run"), str(path)], capture_output=True,
                          text=True, timeout=300, check=False,
                          env={**os.environ, "MCO_CHECK_DIR": str(unpacked)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answers = {}
    for line in proc.stdout.splitlines():
        match = LINE.match(line)
        if match:
            kind, name, action = match.groups()
            answers[(kind, name)] = REBOOT if action == "reboots" else action
    return answers


def test_golden_state_node_objects_agree_with_the_mco(tmp_path: Path, unpacked: Path) -> None:
    objects = golden_node_objects()
    # Nine MachineConfigs and two KubeletConfigs with every opt-in on a PCI cluster.
    kinds = [o["kind"] for o in objects]
    assert (kinds.count("MachineConfig"), kinds.count("KubeletConfig")) == (9, 2), objects
    theirs = mco_check(objects, tmp_path, unpacked)
    ours = {(o["kind"], o["metadata"]["name"]): action_for(o["kind"], None, o) for o in objects}
    assert ours == theirs


def test_each_path_class_agrees_with_the_mco(tmp_path: Path, unpacked: Path) -> None:
    objects = [machineconfig(f"example-{i}", files=[path]) for i, path in enumerate(PATHS)]
    objects += [machineconfig("ssh-keys", passwd=True), machineconfig("empty"),
                machineconfig("unit", units=("example.service",)),
                machineconfig("kargs", kargs=("example=1",))]
    theirs = mco_check(objects, tmp_path, unpacked)
    ours = {("MachineConfig", o["metadata"]["name"]): machineconfig_action(None, o)
            for o in objects}
    assert ours == theirs
    assert [ours[("MachineConfig", f"example-{i}")] for i in range(len(PATHS))] == list(
        PATHS.values())


@pytest.mark.parametrize(("before", "after", "expected"), [
    # Only the registries configuration changes: CRI-O reloads, nobody reboots.
    (machineconfig("m", files=["/etc/containers/registries.conf", "/etc/sysctl.d/a.conf"]),
     machineconfig("m", files=["/etc/containers/registries.conf", "/etc/sysctl.d/a.conf"]),
     NONE),
    (machineconfig("m", files=["/etc/kubernetes/kubelet-ca.crt"]), None, NONE),
    (machineconfig("m", files=["/etc/sysctl.d/a.conf"]), None, REBOOT),
    (machineconfig("m", units=("a.service",)), machineconfig("m", units=("b.service",)), REBOOT),
    (machineconfig("m", kargs=("a=1",)), machineconfig("m", kargs=("a=2",)), REBOOT),
    (machineconfig("m", files=["/etc/containers/policy.json",
                               "/etc/pki/ca-trust/source/anchors/"
                               "openshift-config-user-ca-bundle.crt"]), None, RESTART_CRIO),
])
def test_changes_between_versions(before: dict[str, Any], after: dict[str, Any] | None,
                                  expected: str) -> None:
    assert machineconfig_action(before, after) == expected


def test_a_changed_file_content_counts() -> None:
    before = machineconfig("m", files=["/etc/containers/registries.conf"])
    after = machineconfig("m", files=["/etc/containers/registries.conf"])
    after["spec"]["config"]["storage"]["files"][0]["contents"]["source"] = "data:,other"
    assert machineconfig_action(before, after) == RELOAD_CRIO
    # Labels and annotations do not change the node's configuration.
    relabelled = machineconfig("m", files=["/etc/containers/registries.conf"])
    relabelled["metadata"]["annotations"] = {"a": "b"}
    assert machineconfig_action(before, relabelled) == NONE


def test_kubeletconfig_reboots_when_its_spec_changes() -> None:
    kc = {"kind": "KubeletConfig", "spec": {"kubeletConfig": {"maxPods": 250}}}
    assert action_for("KubeletConfig", None, kc) == REBOOT
    assert action_for("KubeletConfig", kc, kc) == NONE
    assert action_for("KubeletConfig", kc, {"spec": {"kubeletConfig": {"maxPods": 300}}}) == REBOOT
