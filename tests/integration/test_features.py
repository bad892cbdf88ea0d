"""Golden-state features end to end (golden-state spec §2, contract §3/§5).

For every feature beyond the framework, Observability and SWAP (covered elsewhere):
switch it on in a small cluster that has what its conditions need, start the real
controller, and check that every object of the feature exists, carries the ownership
label, is reported compliant and has the feature's key settings; then switch it off and
check that its compliance series disappear and that the controller leaves its objects
alone from then on (a drift made after that survives a full pass).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pytest

from autopilot import FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.golden.catalog import GoldenState, load_golden_state
from tests.integration.features_support import (
    CASES,
    GOLDEN,
    LOCAL_CRDS,
    FeatureCase,
    Obj,
    contains,
)
from tests.support.controller import Controller
from tests.support.platform import HCO_PATH, Platform, labels_of
from tests.support.wait import eventually_sync

COMPLIANCE = "virt_platform_compliance_status"
AUTOPILOT = "platform.kubevirt.io/autopilot"
NUDGE = "example.com/features-test-nudge"
WRITES = ("create", "update", "patch", "delete")
# Covered by test_activation, test_drift and the golden-content tests.
COVERED_ELSEWHERE = {"framework", "observability", "swap"}


@lru_cache(maxsize=1)
def golden() -> GoldenState:
    """The shipped golden state."""
    return load_golden_state(GOLDEN)


def feature_assets(feature: str) -> list[str]:
    """Names of the catalogue assets of a feature."""
    g = golden()
    return [a.name for a in g.feature_assets(g.feature(feature))]


def test_every_feature_has_a_case() -> None:
    features = {f.name for f in golden().features} - COVERED_ELSEWHERE
    assert features == {c.feature for c in CASES}


def prepare(cluster: Any, platform: Platform, case: FeatureCase) -> None:
    """CRDs, namespaces, nodes, pre-existing objects and the HCO the feature needs."""
    platform.install("HyperConverged", *case.kinds)
    if case.local_crds:
        cluster.install_crds(*(LOCAL_CRDS / name for name in case.local_crds))
    for ns in case.namespaces:
        platform.ensure_namespace(ns)
    for body in case.nodes:
        status, created = cluster.api("POST", "/api/v1/nodes", body=body)
        assert status == 201, created
    for collection, body in case.existing:
        status, created = cluster.api("POST", collection, body=body)
        assert status == 201, created
    platform.create_hco({AUTOPILOT: case.autopilot, **case.switch}, spec=dict(case.spec))


def compliance(c: Controller, obj: Obj) -> float | None:
    """The compliance series of one object (None when absent)."""
    return c.metric(COMPLIANCE, kind=obj.kind, name=obj.name, namespace=obj.namespace)


def owned(obj: dict[str, Any]) -> bool:
    """Carries the ownership label."""
    return labels_of(obj).get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def passes(c: Controller, assets: list[str]) -> dict[str, int]:
    """How many asset passes the controller has finished, per asset."""
    done = c.log_lines("asset pass done")
    return {a: sum(1 for line in done if line.get("asset") == a) for a in assets}


def full_pass(c: Controller, platform: Platform, assets: list[str], n: int) -> None:
    """Nudge the HCO (every asset is re-evaluated) and wait until each asset had a pass."""
    before = passes(c, assets)
    platform.annotate_hco({NUDGE: str(n)})
    eventually_sync(
        lambda: all(v > before[a] for a, v in passes(c, assets).items()),
        timeout=15, what=f"a pass over {', '.join(assets)} after nudge {n}",
    )


def writes_to(sim: Any, plurals: tuple[str, ...]) -> dict[str, int]:
    """Writes by the controller to each resource since the last counter reset."""
    return {
        p: sum(sim.controls.counts(verb=v, resource=p, user_agent=FIELD_MANAGER, dry_run=False)
               for v in WRITES)
        for p in plurals
    }


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_feature_on_then_off(case: FeatureCase, cluster: Any, controller: Any) -> None:
    platform = Platform(cluster)
    prepare(cluster, platform, case)
    c = controller(env=dict(case.env) or None)

    # On: every object applied, labelled, compliant and carrying the key settings.
    for obj in case.objects:
        live = platform.wait_for(obj.path, owned, what=f"{obj} applied with the ownership label")
        eventually_sync(lambda o=obj: compliance(c, o) == 1, what=f"{obj} compliant")
        if obj.check is not None:
            obj.check(live)
    assert not c.log_lines("failed to apply"), c.log_lines("failed to apply")
    assert not c.log_lines("render failed"), c.log_lines("render failed")

    # Off: the series go away and the objects stay (switching off never deletes).
    if cluster.sim is not None:
        cluster.sim.controls.reset_counts()
    if case.autopilot_off is not None:
        platform.annotate_hco({AUTOPILOT: case.autopilot_off})
    if case.off_annotations:
        platform.annotate_hco(dict(case.off_annotations))
    if case.off_spec is not None:
        platform.patch(HCO_PATH, {"spec": dict(case.off_spec)})
    for obj in case.objects:
        eventually_sync(lambda o=obj: compliance(c, o) is None,
                        what=f"{obj} compliance series removed")
    assets = feature_assets(case.feature)
    full_pass(c, platform, assets, 1)

    # No further writes: a drift made now survives a full pass over the feature's assets.
    target = case.objects[0]
    platform.patch(target.path, dict(case.drift))
    full_pass(c, platform, assets, 2)
    live = platform.get(target.path)
    assert live is not None and contains(live, case.drift), f"{target} was reverted: {live}"
    for obj in case.objects:
        assert platform.get(obj.path) is not None, f"{obj} deleted after switching off"
        assert compliance(c, obj) is None, f"{obj} reported again"
    if cluster.sim is not None and case.quiet_plurals:
        assert writes_to(cluster.sim, case.quiet_plurals) == dict.fromkeys(case.quiet_plurals, 0)
