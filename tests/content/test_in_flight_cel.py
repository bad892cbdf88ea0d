"""In-Flight Operations: every rule compiles as CEL and is true exactly when it should be.

The short forms of files/in-flight-operations/rulesets.yaml give the positive cases for
free: an object in each listed phase, or with each listed condition, must match.
"""

from __future__ import annotations

from typing import Any

import celpy
import pytest
from ruamel.yaml import YAML

from autopilot.golden.catalog import GoldenState
from tests.support.rendering import GOLDEN_ROOT, context, make_hco, rendered

DATA = YAML(typ="safe").load((GOLDEN_ROOT / "files/in-flight-operations/rulesets.yaml").read_text())
HCO = make_hco({"platform.kubevirt.io/enable-in-flight-operations": "true"})
BARE = {"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "x", "namespace": "ns"},
        "spec": {}}
# operations that are rightly under way on an object nobody has reported status for yet
TRUE_WITHOUT_STATUS = {("volumesnapshot-rules", "Provisioning"),
                       ("vm-restore-rules", "Restoring")}
ENV = celpy.Environment()


def evaluate(expression: str, obj: dict[str, Any]) -> Any:
    program = ENV.program(ENV.compile(expression))
    return program.evaluate({"object": celpy.json_to_cel(obj)})


def expressions(golden: GoldenState) -> dict[tuple[str, str], str]:
    out = {}
    for component in DATA:
        for obj in rendered(golden, f"in-flight-operations-{component}", context(HCO)):
            for rule in obj["spec"]["rules"]:
                out[(obj["metadata"]["name"], rule["operation"])] = rule["expression"]
    return out


@pytest.fixture(scope="module")
def rules(golden: GoldenState) -> dict[tuple[str, str], str]:
    return expressions(golden)


def test_every_rule_compiles_and_is_quiet_on_a_fresh_object(
    rules: dict[tuple[str, str], str],
) -> None:
    for key, expression in rules.items():
        result = evaluate(expression, BARE)
        assert isinstance(result, celpy.celtypes.BoolType), (key, result)
        assert bool(result) == (key in TRUE_WITHOUT_STATUS), key


def _short_form_cases() -> list[tuple[str, str, dict[str, Any]]]:
    cases = []
    for rulesets in DATA.values():
        for ruleset in rulesets:
            for op in ruleset["operations"]:
                if "and" in op:
                    continue
                for phase in op.get("phase", []):
                    cases.append((ruleset["name"], op["operation"], {"phase": phase}))
                if "conditions" in op:
                    conditions = [{"type": t, "status": s} for t, s in op["conditions"].items()]
                    cases.append((ruleset["name"], op["operation"], {"conditions": conditions}))
    return cases


@pytest.mark.parametrize(("ruleset", "operation", "status"), _short_form_cases())
def test_short_form_rules_match_their_own_states(
    rules: dict[tuple[str, str], str], ruleset: str, operation: str, status: dict[str, Any]
) -> None:
    obj = {**BARE, "status": status}
    assert evaluate(rules[(ruleset, operation)], obj), (ruleset, operation, status)


def test_completed_states_are_not_operations(rules: dict[tuple[str, str], str]) -> None:
    done = {"status": {"phase": "Succeeded", "conditions": [
        {"type": "Available", "status": "True"}, {"type": "Progressing", "status": "False"},
        {"type": "Degraded", "status": "False"}]}}
    for (ruleset, operation), expression in rules.items():
        if ruleset in {"volumesnapshot-rules", "vm-restore-rules", "machineset-rules"}:
            continue
        assert not evaluate(expression, {**BARE, **done}), (ruleset, operation)


@pytest.mark.parametrize(
    ("ruleset", "operation", "obj", "expected"),
    [
        ("vmi-rules", "Migrating", {"status": {"migrationState": {"completed": False}}}, True),
        ("vmi-rules", "Migrating", {"status": {"migrationState": {"completed": True}}}, False),
        ("vmi-rules", "HotplugInProgress",
         {"status": {"volumeStatus": [{"name": "d", "hotplugVolume": {}, "phase": "Bound"}]}},
         True),
        ("vmi-rules", "HotplugInProgress",
         {"status": {"volumeStatus": [{"name": "d", "hotplugVolume": {}, "phase": "Ready"}]}},
         False),
        ("vm-lifecycle-rules", "Migrating", {"status": {"printableStatus": "Migrating"}}, True),
        ("vm-lifecycle-rules", "Terminating",
         {"metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"}}, True),
        ("volumesnapshot-rules", "Provisioning", {"status": {"readyToUse": False}}, True),
        ("volumesnapshot-rules", "Provisioning", {"status": {"readyToUse": True}}, False),
        ("volumesnapshot-rules", "Provisioning",
         {"status": {"readyToUse": False, "error": {"message": "boom"}}}, False),
        ("vm-restore-rules", "Restoring", {"status": {"complete": True}}, False),
        ("kubevirt-rules", "Upgrading",
         {"status": {"targetKubeVirtVersion": "v1.5", "observedKubeVirtVersion": "v1.4"}}, True),
        ("kubevirt-rules", "Upgrading",
         {"status": {"targetKubeVirtVersion": "v1.5", "observedKubeVirtVersion": "v1.5"}}, False),
        ("kubevirt-rules", "UpdateRollingOut",
         {"status": {"outdatedVirtualMachineInstanceWorkloads": 3}}, True),
        ("hco-rules", "Upgrading", {"status": {"conditions": [
            {"type": "Progressing", "status": "True", "reason": "HCOUpgrading"}]}}, True),
        ("hco-rules", "Upgrading", {"status": {"conditions": [
            {"type": "Progressing", "status": "True", "reason": "Reconciling"}]}}, False),
        ("fenceagentsremediation-rules", "TimingOut",
         {"metadata": {"name": "x", "annotations": {"remediation.medik8s.io/nhc-timed-out": ""}},
          "status": {"conditions": [{"type": "Processing", "status": "True"}]}}, True),
        ("fenceagentsremediation-rules", "TimingOut",
         {"status": {"conditions": [{"type": "Processing", "status": "True"}]}}, False),
        ("machineset-rules", "ScalingUp", {"spec": {"replicas": 3},
                                           "status": {"replicas": 3, "readyReplicas": 2}}, True),
        ("machineset-rules", "ScalingUp", {"spec": {"replicas": 3},
                                           "status": {"replicas": 3, "readyReplicas": 3}}, False),
        ("machineset-rules", "ScalingDown", {"spec": {"replicas": 1},
                                             "status": {"replicas": 3}}, True),
        ("subscription-rules", "Pending", {"status": {"state": "UpgradePending"}}, True),
        # A failed restore is no longer restoring.
        ("vm-restore-rules", "Restoring", {"status": {"complete": False, "conditions": [
            {"type": "Failure", "status": "True"}]}}, False),
        ("vm-restore-rules", "Restoring", {"status": {"complete": False, "conditions": [
            {"type": "Progressing", "status": "True"}]}}, True),
        ("clusterversion-rules", "PartialUpdate", {"status": {"history": [
            {"state": "Partial", "version": "4.18.3"}, {"state": "Completed"}]}}, True),
        ("clusterversion-rules", "PartialUpdate", {"status": {"history": [
            {"state": "Completed"}, {"state": "Partial"}]}}, False),
        ("clusterversion-rules", "PartialUpdate", {"status": {"history": []}}, False),
        ("ssp-rules", "Paused", {"status": {"paused": True}}, True),
        ("ssp-rules", "Paused", {"status": {"paused": False}}, False),
        ("machineconfigpool-rules", "Paused", {"spec": {"paused": True}}, True),
        ("machineconfigpool-rules", "Paused", {"spec": {"paused": False}}, False),
    ],
)
def test_expression_rules(
    rules: dict[tuple[str, str], str],
    ruleset: str,
    operation: str,
    obj: dict[str, Any],
    expected: bool,
) -> None:
    assert bool(evaluate(rules[(ruleset, operation)], {**BARE, **obj})) is expected
