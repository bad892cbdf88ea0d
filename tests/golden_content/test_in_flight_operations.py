"""In-Flight Operations: one OperationRuleSet per target of golden-state.md, with sane CEL."""

from __future__ import annotations

import re
from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState

from .rendering import context, make_hco, rendered

COMPONENTS = ("cdi", "csi", "far", "forklift", "hco", "kubevirt", "nmstate", "nodemaintenance",
              "oadp", "olm", "openshift")
EXPECTED = {
    "cdi": {"datavolume-rules"},
    "csi": {"volumesnapshot-rules"},
    "far": {"fenceagentsremediation-rules"},
    "forklift": {"plan-rules"},
    "hco": {f"{c}-rules" for c in ("aaq", "cdi", "cnao", "hco", "hpp", "kubevirt", "ssp")},
    "kubevirt": {f"{c}-rules" for c in ("vm-lifecycle", "vmi", "vmim", "vm-clone", "vm-export",
                                         "vm-restore", "vm-snapshot")},
    "nmstate": {"nnce-rules", "nncp-rules"},
    "nodemaintenance": {"nodemaintenance-rules"},
    "olm": {"csv-rules", "installplan-rules", "subscription-rules"},
    "openshift": {f"{c}-rules" for c in ("build", "clusteroperator", "clusterversion", "machine",
                                          "machineconfigpool", "machineset",
                                          "storageversionmigration")},
}
HCO = make_hco({"platform.kubevirt.io/enable-in-flight-operations": "true"})


def rulesets(golden: GoldenState, component: str) -> list[dict[str, Any]]:
    return rendered(golden, f"in-flight-operations-{component}", context(HCO))


def balanced(expression: str) -> bool:
    depth = 0
    for char in re.sub(r'"[^"]*"', '""', expression):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


@pytest.mark.parametrize("component", COMPONENTS)
def test_rule_sets_of_a_component(golden: GoldenState, component: str) -> None:
    objects = rulesets(golden, component)
    names = {o["metadata"]["name"] for o in objects}
    if component == "oadp":
        assert len(names) == 7 and all(n.startswith("velero-") for n in names)
    else:
        assert names == EXPECTED[component]
    for obj in objects:
        assert obj["apiVersion"] == "ifo.kubevirt.io/v1alpha1"
        assert obj["kind"] == "OperationRuleSet" and "namespace" not in obj["metadata"]
        spec = obj["spec"]
        assert spec["component"] == component
        assert set(spec["target"]) == {"group", "version", "resource"}
        assert spec["target"]["resource"].islower() and spec["target"]["version"]
        operations = [r["operation"] for r in spec["rules"]]
        assert operations and len(operations) == len(set(operations)), obj["metadata"]["name"]
        for rule in spec["rules"]:
            expr = rule["expression"]
            assert "\n" not in expr and "object." in expr, expr
            assert balanced(expr), expr


def test_rule_set_names_are_unique_across_components(golden: GoldenState) -> None:
    names = [o["metadata"]["name"] for c in COMPONENTS for o in rulesets(golden, c)]
    assert len(names) == len(set(names)) == 38


def test_short_forms_expand_to_cel(golden: GoldenState) -> None:
    dv = rulesets(golden, "cdi")[0]
    rules = {r["operation"]: r["expression"] for r in dv["spec"]["rules"]}
    assert rules["ImportInProgress"] == (
        'has(object.status) && has(object.status.phase) && '
        'object.status.phase in ["ImportScheduled", "ImportInProgress"]'
    )
    hco_rules = next(o for o in rulesets(golden, "hco") if o["metadata"]["name"] == "hco-rules")
    deploying = next(r for r in hco_rules["spec"]["rules"] if r["operation"] == "Deploying")
    assert deploying["expression"] == (
        "has(object.status) && has(object.status.conditions)"
        ' && object.status.conditions.exists(c, c.type == "Available" && c.status == "False")'
        ' && object.status.conditions.exists(c, c.type == "Progressing" && c.status == "True")'
        ' && object.status.conditions.exists(c, c.type == "Degraded" && c.status == "False")'
    )


def test_operations_named_in_the_spec_are_tracked(golden: GoldenState) -> None:
    ops = {o["metadata"]["name"]: {r["operation"] for r in o["spec"]["rules"]}
           for c in COMPONENTS for o in rulesets(golden, c)}
    assert {"Pending", "WaitForFirstConsumer", "PVCBound", "PendingPopulation",
            "PrepClaimInProgress", "ExpansionInProgress", "NamespaceTransferInProgress",
            "RebindInProgress"} <= ops["datavolume-rules"]
    assert ops["volumesnapshot-rules"] == {"Provisioning"}
    assert ops["fenceagentsremediation-rules"] == {"Remediating", "Failing", "TimingOut"}
    assert ops["plan-rules"] == {"Executing"}
    assert ops["nodemaintenance-rules"] == {"Draining"}
    for name in ("aaq-rules", "cdi-rules", "cnao-rules", "hco-rules", "hpp-rules",
                 "kubevirt-rules", "ssp-rules"):
        assert {"Reconciling", "ReconcilingDegraded", "Healing", "Failing"} <= ops[name]
    assert {"Upgrading", "UpdateRollingOut", "Deleting"} <= ops["kubevirt-rules"]
    assert ops["nncp-rules"] | ops["nnce-rules"] == {"Configuring", "Pending", "Failing",
                                                      "ConfiguringDegraded"}
    assert {"InProgress", "Canceling"} <= ops["velero-dataupload-rules"]
    assert {"Pending", "Installing", "Replacing", "Deleting", "Failing"} <= ops["csv-rules"]
    assert {"Planning", "RequiresApproval"} <= ops["installplan-rules"]
    assert {"Unpacking", "InstallPlanPending"} <= ops["subscription-rules"]
    assert {"ScalingUp", "ScalingDown"} == ops["machineset-rules"]
    assert ops["storageversionmigration-rules"] == {"Migrating"}
