"""Load-Aware Descheduler: profile from the installed CRD, utilisation from recording rules,
eviction limits from the HCO."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from autopilot.golden.catalog import GoldenState
from tests.support.rendering import (
    SHARED,
    context,
    descheduler_crd,
    make_hco,
    make_nodes,
    one,
    prometheus_rule,
    snapshot,
)

ASSET = "descheduler-kubedescheduler"
ALL = ["AffinityAndTaints", "LongLifecycle", "DevKubeVirtRelieveAndMigrate",
       "KubeVirtRelieveAndMigrate"]
K3 = "descheduler:node:linear_amplified_ideal_point_positive_distance:k3:avg1m"
COMBINED = "descheduler:combined_utilization_and_pressure:avg1m"


def spec_for(
    golden: GoldenState, *objects: dict[str, Any], hco: dict[str, Any] | None = None
) -> Any:
    obj = one(golden, ASSET, context(hco or make_hco()), lookups=snapshot(*objects))
    assert obj["apiVersion"] == "operator.openshift.io/v1" and obj["kind"] == "KubeDescheduler"
    assert obj["metadata"]["name"] == "cluster"
    assert obj["metadata"]["namespace"] == "openshift-kube-descheduler-operator"
    return obj["spec"]


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (ALL, "KubeVirtRelieveAndMigrate"),
        (["AffinityAndTaints", "LongLifecycle", "DevKubeVirtRelieveAndMigrate"],
         "DevKubeVirtRelieveAndMigrate"),
        (["AffinityAndTaints", "LongLifecycle"], "LongLifecycle"),
        # none offered (or offline): LongLifecycle, known to every v1 descheduler operator
        (["AffinityAndTaints", "TopologyAndDuplicates"], "LongLifecycle"),
    ],
)
def test_profile_is_the_first_the_crd_offers(
    golden: GoldenState, offered: list[str], expected: str
) -> None:
    spec = spec_for(golden, descheduler_crd(offered))
    assert spec["profiles"] == [expected]
    assert spec["managementState"] == "Managed"
    assert spec["mode"] == "Automatic"
    assert spec["deschedulingIntervalSeconds"] == 60
    # Background evictions: the RelieveAndMigrate profiles have them built in; only
    # LongLifecycle needs the customisation (KubeVirt's HCOMisconfiguredDescheduler).
    custom = spec.get("profileCustomizations", {})
    if expected == "LongLifecycle":
        assert custom == {"devEnableEvictionsInBackground": True}
    else:
        assert "devEnableEvictionsInBackground" not in custom


def test_offline_render_falls_back_to_long_lifecycle(golden: GoldenState) -> None:
    spec = spec_for(golden)
    assert spec["profiles"] == ["LongLifecycle"]
    assert "devActualUtilizationProfile" not in spec["profileCustomizations"]


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([K3, COMBINED], "PrometheusCPUMemoryCombinedProfile"),
        ([COMBINED], "PrometheusCPUCombined"),
        (["descheduler:nodeutilization:cpu:avg1m"], None),
    ],
)
def test_actual_utilisation_follows_recording_rules(
    golden: GoldenState, records: list[str], expected: str | None
) -> None:
    spec = spec_for(golden, descheduler_crd(ALL), prometheus_rule(*records))
    custom = spec.get("profileCustomizations", {})
    assert custom.get("devActualUtilizationProfile") == expected
    # The profile's own deviation thresholds, as with the reference operator.
    assert "devDeviationThresholds" not in custom


def test_long_lifecycle_gets_no_relieve_customisations(golden: GoldenState) -> None:
    spec = spec_for(golden, descheduler_crd(["LongLifecycle"]), prometheus_rule(COMBINED))
    assert spec["profileCustomizations"] == {"devEnableEvictionsInBackground": True}


def test_fields_an_older_crd_lacks_are_left_out(golden: GoldenState) -> None:
    old = descheduler_crd(["LongLifecycle"], customizations=["podLifetime"],
                          eviction_limits=False)
    spec = spec_for(golden, old)
    assert spec["profiles"] == ["LongLifecycle"]
    assert "profileCustomizations" not in spec and "evictionLimits" not in spec


def test_only_declared_customisations_are_set(golden: GoldenState) -> None:
    crd = descheduler_crd(["KubeVirtRelieveAndMigrate"],
                          customizations=["devEnableEvictionsInBackground",
                                          "devDeviationThresholds"])
    spec = spec_for(golden, crd, prometheus_rule(COMBINED))
    assert "profileCustomizations" not in spec  # devActualUtilizationProfile undeclared
    assert spec["evictionLimits"] == {"total": 5, "node": 2}


def test_eviction_limits_default_to_kubevirt_defaults(golden: GoldenState) -> None:
    assert spec_for(golden)["evictionLimits"] == {"total": 5, "node": 2}


def test_eviction_limits_follow_the_hco(golden: GoldenState) -> None:
    hco = make_hco(spec={"virtualization": {"liveMigrationConfig": {
        "parallelMigrationsPerCluster": 9, "parallelOutboundMigrationsPerNode": 3}}})
    assert spec_for(golden, hco=hco)["evictionLimits"] == {"total": 9, "node": 3}


def test_eviction_limits_read_the_v1beta1_layout_too(golden: GoldenState) -> None:
    hco = make_hco(spec={"liveMigrationConfig": {"parallelMigrationsPerCluster": 7}})
    assert spec_for(golden, hco=hco)["evictionLimits"] == {"total": 7, "node": 2}


@pytest.mark.parametrize("role", ["worker", "master"])
def test_psi_kernel_argument(golden: GoldenState, role: str) -> None:
    ctx = context(make_hco(), nodes=make_nodes(schedulable_masters=True))
    mc = one(golden, f"descheduler-psi-{role}-machineconfig", ctx)
    assert mc["kind"] == "MachineConfig"
    assert mc["metadata"]["name"] == f"99-openshift-machineconfig-{role}-psi-karg"
    assert mc["metadata"]["labels"]["machineconfiguration.openshift.io/role"] == role
    assert mc["spec"]["kernelArguments"] == ["psi=1"]


def test_dashboard_queries_the_descheduler_rules(golden: GoldenState) -> None:
    dash = one(golden, "descheduler-dashboard", context(make_hco()))
    assert dash["apiVersion"] == "perses.dev/v1alpha2" and dash["kind"] == "PersesDashboard"
    panels = dash["spec"]["config"]["panels"]
    queries = [
        p["spec"]["queries"][0]["spec"]["plugin"]["spec"]["query"] for p in panels.values()
    ]
    assert "descheduler:nodeutilization:cpu:avg1m" in queries
    refs = [i["content"]["$ref"] for i in dash["spec"]["config"]["layouts"][0]["spec"]["items"]]
    assert refs == [f"#/spec/panels/{name}" for name in panels]


def test_with_the_published_crd(golden: GoldenState) -> None:
    path = SHARED / "crds/openshift/operator.openshift.io_kubedeschedulers.yaml"
    if not path.is_file():
        pytest.skip("../shared is absent: no published KubeDescheduler CRD")
    crd = YAML(typ="safe").load(path.read_text())
    spec = spec_for(golden, crd, prometheus_rule(K3))
    assert spec["profiles"] == ["KubeVirtRelieveAndMigrate"]
    assert spec["profileCustomizations"] == {
        "devActualUtilizationProfile": "PrometheusCPUMemoryCombinedProfile",
    }
    assert spec["evictionLimits"] == {"total": 5, "node": 2}
