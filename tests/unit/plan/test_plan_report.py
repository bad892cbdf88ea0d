"""``autopilot plan``'s text: one line per change, diffs under updates, a summary line."""

from __future__ import annotations

import json

from autopilot.plan import changes as ch
from autopilot.plan.blast import BlastRadius, PoolRoll
from autopilot.plan.report import format_json, format_text, summary
from autopilot.plan.survey import Plan


def sample() -> Plan:
    mc = ch.Change(action=ch.CREATE, asset="swap", api_version="v1", kind="MachineConfig",
                   name="90-worker-swap-online", node_action="reboot", pools=["worker"])
    svc = ch.Change(action=ch.UPDATE, asset="svc", api_version="v1", kind="Service",
                    name="metrics", namespace="ns", diff="--- a\n+++ b\n-x\n+y\n")
    same = ch.Change(action=ch.UNCHANGED, asset="svc", api_version="v1", kind="ConfigMap",
                     name="c", namespace="ns")
    denied = ch.Change(action=ch.WOULD_FAIL, asset="sm", api_version="v1",
                       kind="ServiceMonitor", name="s", namespace="ns", note="denied")
    blast = BlastRadius(pools=[PoolRoll(name="worker", nodes=("w0", "w1"), action="reboot",
                                        because=("MachineConfig 90-worker-swap-online",))])
    return Plan(changes=[same, denied, svc, mc], blast=blast)


def test_text_orders_by_action_and_hides_unchanged() -> None:
    lines = format_text(sample(), subject="HCO").splitlines()
    body = [line for line in lines if line.startswith("  ")]
    assert body[0].startswith("  + create     MachineConfig 90-worker-swap-online  [swap]")
    assert body[0].endswith("nodes: reboot (pools: worker)")
    assert body[1] == "  ~ update     Service ns/metrics  [svc]"
    assert body[2:6] == ["      --- a", "      +++ b", "      -x", "      +y"]
    assert body[6] == "  ! would fail ServiceMonitor ns/s  [sm]" and body[7] == "      denied"
    assert not any("ConfigMap" in line for line in lines)
    assert "  worker: 2 node(s) reboot (w0, w1)" in lines
    assert lines[-1] == summary(sample())
    assert summary(sample()) == ("Plan: 1 to create, 1 to update, 0 to delete, 1 unchanged, "
                                 "1 would fail. Pools that roll: 1 (worker). "
                                 "Nodes that reboot: 2.")


def test_json_lists_every_verdict() -> None:
    doc = json.loads(format_json(sample(), subject="HCO"))
    assert [c["action"] for c in doc["changes"]] == ["unchanged", "would fail", "update",
                                                     "create"]
    assert doc["summary"]["nodesRebooting"] == ["w0", "w1"]
    assert doc["changes"][3]["pools"] == ["worker"]
