"""In-Flight Operations: one OperationRuleSet per target of golden-state.md, with sane CEL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from ruamel.yaml import YAML

from autopilot.golden.catalog import GoldenState
from tests.support.rendering import SHARED, context, make_hco, rendered

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


CRD = SHARED / "crds" / "inflightoperations" / "ifo.kubevirt.io_operationrulesets.yaml"
GROUP_LABEL = "ifo.kubevirt.io/correlation-group"
ROLE_LABEL = "ifo.kubevirt.io/correlation-role"


def all_rulesets(golden: GoldenState) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for c in COMPONENTS for o in rulesets(golden, c)}


def test_correlation_labels(golden: GoldenState) -> None:
    labelled = {name: o["spec"]["labels"] for name, o in all_rulesets(golden).items()
                if "labels" in o["spec"]}
    assert len(labelled) == 24
    groups: dict[str, dict[str, set[str]]] = {}
    for name, labels in labelled.items():
        assert set(labels) == {GROUP_LABEL, ROLE_LABEL}, name
        groups.setdefault(labels[GROUP_LABEL], {}).setdefault(labels[ROLE_LABEL], set()).add(
            name)
    assert set(groups) == {"hco-stack", "cluster-update", "machine-lifecycle",
                           "network-config", "data-protection", "olm-install"}
    for group, roles in groups.items():
        assert set(roles) == {"root", "child"}, group
    assert groups["hco-stack"]["root"] == {"hco-rules"}
    assert groups["cluster-update"]["root"] == {"clusterversion-rules"}
    assert groups["cluster-update"]["child"] == {"clusteroperator-rules",
                                                 "machineconfigpool-rules"}
    assert len(groups["data-protection"]["root"] | groups["data-protection"]["child"]) == 7


def test_current_api_versions(golden: GoldenState) -> None:
    sets = all_rulesets(golden)
    assert sets["hco-rules"]["spec"]["target"] == {
        "group": "hco.kubevirt.io", "version": "v1beta1", "resource": "hyperconvergeds"}
    assert sets["ssp-rules"]["spec"]["target"]["version"] == "v1beta3"


def test_operations_and_their_failed_outcomes(golden: GoldenState) -> None:
    ops = {name: {r["operation"] for r in o["spec"]["rules"]}
           for name, o in all_rulesets(golden).items()}
    assert {"Deploying", "Reconciling", "ReconcilingDegraded", "Healing", "Failing",
            "NotUpgradeable"} <= ops["clusteroperator-rules"]
    assert {"Updating", "Failing", "NotUpgradeable", "PartialUpdate"} <= \
        ops["clusterversion-rules"]
    assert {"Updating", "UpdatingDegraded", "Degraded", "NodeDegraded", "RenderDegraded",
            "Paused", "Building", "BuildFailed"} <= ops["machineconfigpool-rules"]
    assert "Failed" in ops["datavolume-rules"]
    assert {"WaitingForSync", "Provisioning", "VCPUChange", "MemoryChange", "Failed"} <= \
        ops["vmi-rules"]
    assert ops["vm-restore-rules"] == {"Restoring", "Failed"}
    assert {"Paused", "Upgrading"} <= ops["ssp-rules"]


def schema_problems(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """The structural-schema checks the API server applies, for the parts this CRD uses."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if kind in types and not isinstance(value, types[kind]):
        return [f"{path or '/'}: want {kind}"]
    problems = []
    if kind == "object":
        properties = schema.get("properties")
        for required in schema.get("required", []):
            if required not in value:
                problems.append(f"{path}/{required}: required")
        for key, item in value.items():
            if properties is not None and key in properties:
                problems += schema_problems(item, properties[key], f"{path}/{key}")
            elif "additionalProperties" in schema:
                problems += schema_problems(item, schema["additionalProperties"], f"{path}/{key}")
            elif properties is not None and path != "/metadata":
                problems.append(f"{path}/{key}: not in the schema")
    if kind == "array":
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{path}: fewer than {schema['minItems']} items")
        for i, item in enumerate(value):
            problems += schema_problems(item, schema.get("items", {}), f"{path}/{i}")
    return problems


def test_rule_sets_match_the_published_crd(golden: GoldenState) -> None:
    if not CRD.is_file():
        pytest.skip(f"{CRD} is not available")
    crd = YAML(typ="safe").load(CRD.read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = version["schema"]["openAPIV3Schema"]
    for name, obj in all_rulesets(golden).items():
        assert schema_problems(obj, schema) == [], name
    bad = {"apiVersion": "x", "kind": "y", "metadata": {}, "spec": {
        "rules": [], "target": {"group": "g"}, "labels": {"k": 1}, "extra": True}}
    assert len(schema_problems(bad, schema)) == 5  # the check itself can fail
