"""Which pools a MachineConfig or KubeletConfig reaches, and which nodes each pool has."""

from __future__ import annotations

from typing import Any

from autopilot.plan.pools import pools_of, pools_reached, selector_matches

ROLE = "machineconfiguration.openshift.io/role"


def node(name: str, *roles: str) -> dict[str, Any]:
    return {"metadata": {"name": name,
                         "labels": {f"node-role.kubernetes.io/{r}": "" for r in roles}}}


def pool(name: str, *, selector: dict[str, Any] | None = None) -> dict[str, Any]:
    label = f"pools.operator.machineconfiguration.openshift.io/{name}"
    return {"metadata": {"name": name, "labels": {label: ""}},
            "spec": {"machineConfigSelector": selector or {"matchLabels": {ROLE: name}},
                     "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{name}": ""}}}}


def test_selector_operators() -> None:
    labels = {"a": "1", "b": "2"}
    assert selector_matches({}, labels)
    assert not selector_matches(None, labels)
    assert selector_matches({"matchLabels": {"a": "1"}}, labels)
    assert not selector_matches({"matchLabels": {"a": "2"}}, labels)
    assert selector_matches({"matchExpressions": [
        {"key": "a", "operator": "In", "values": ["1", "3"]},
        {"key": "b", "operator": "NotIn", "values": ["3"]},
        {"key": "a", "operator": "Exists"},
        {"key": "c", "operator": "DoesNotExist"}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "c", "operator": "Exists"}]},
                                labels)


def test_a_node_belongs_to_one_pool_master_first_then_custom() -> None:
    nodes = [node("m0", "master", "worker"), node("w0", "worker"),
             node("i0", "worker", "infra")]
    pools = {p.name: p.nodes for p in pools_of([pool("master"), pool("worker"), pool("infra")],
                                                nodes)}
    assert pools == {"master": ("m0",), "worker": ("w0",), "infra": ("i0",)}


def test_machineconfig_by_role_label_kubeletconfig_by_pool_selector() -> None:
    custom = {"matchExpressions": [{"key": ROLE, "operator": "In", "values": ["worker", "infra"]}]}
    pools = pools_of([pool("master"), pool("worker"), pool("infra", selector=custom)],
                     [node("w0", "worker")])
    mc = {"metadata": {"labels": {ROLE: "worker"}}}
    assert [p.name for p in pools_reached("MachineConfig", mc, pools)] == ["infra", "worker"]
    kc = {"spec": {"machineConfigPoolSelector": {"matchLabels": {
        "pools.operator.machineconfiguration.openshift.io/worker": ""}}}}
    assert [p.name for p in pools_reached("KubeletConfig", kc, pools)] == ["worker"]
    assert pools_reached("KubeletConfig", {"spec": {}}, pools) == []
