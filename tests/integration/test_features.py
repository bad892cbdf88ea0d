"""Golden-state features end to end (golden-state spec §2, contract §3/§5).

For every feature beyond the framework, Observability and SWAP (covered elsewhere):
switch it on in a small cluster that has what its conditions need, start the real
controller, and check that every object of the feature exists, carries the ownership
label, is reported compliant and has the feature's key settings; then switch it off and
check that its compliance series disappear and that the controller leaves its objects
alone from then on (a drift made after that survives a full pass).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import pytest

from autopilot import FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.golden.catalog import GoldenState, load_golden_state
from autopilot.golden.context import build_context
from autopilot.golden.gate import parse_activation
from autopilot.golden.lookups import SnapshotLookups
from autopilot.golden.plan import plan_asset
from tests.support.controller import Controller
from tests.support.features_support import (
    CASES,
    EXPORTER_ENV,
    GOLDEN,
    FeatureCase,
    Obj,
    contains,
)
from tests.support.platform import HCO_NS, HCO_PATH, Platform, labels_of
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
    """CRDs, namespaces, nodes, pre-existing objects and the HCO (feature still off)."""
    platform.install("HyperConverged", *case.kinds)
    for ns in case.namespaces:
        platform.ensure_namespace(ns)
    for body in case.nodes:
        status, created = cluster.api("POST", "/api/v1/nodes", body=body)
        assert status == 201, created
    for collection, body in case.existing:
        status, created = cluster.api("POST", collection, body=body)
        assert status == 201, created
    platform.create_hco({AUTOPILOT: case.autopilot, **case.annotations}, spec=dict(case.spec))


def switch(platform: Platform, annotations: Mapping[str, str | None],
           spec: Mapping[str, Any] | None) -> None:
    """Merge-patch the HCO's annotations and spec."""
    body: dict[str, Any] = {}
    if annotations:
        body["metadata"] = {"annotations": dict(annotations)}
    if spec is not None:
        body["spec"] = dict(spec)
    assert body, "a case must say how its feature is switched"
    platform.patch(HCO_PATH, body)


def rendered_identities(cluster: Any, platform: Platform, case: FeatureCase) -> set[str]:
    """What the feature's assets render for this cluster's HCO, nodes and env (lookups
    over the objects the case created), as ``kind namespace/name`` strings."""
    hco = platform.get(HCO_PATH)
    status, nodes = cluster.api("GET", "/api/v1/nodes")
    assert hco is not None and status == 200, nodes
    g = golden()
    ctx = build_context(hco=hco, nodes=nodes.get("items") or [], infrastructure=None,
                        scheduler=None, environ=dict(case.env), version=g.version,
                        namespace=HCO_NS)
    out: set[str] = set()
    for asset in g.feature_assets(g.feature(case.feature)):
        plan = plan_asset(g, asset, ctx, activation=parse_activation("true"),
                          lookups=SnapshotLookups([body for _, body in case.existing]))
        assert plan.error is None, plan.error
        for obj in plan.objects:
            meta = obj["metadata"]
            out.add(str(Obj(obj["apiVersion"], obj["kind"], "", meta["name"],
                            meta.get("namespace") or "")))
    return out


def compliance(c: Controller, objects: tuple[Obj, ...]) -> dict[str, float | None]:
    """The compliance series of each object (None when absent), from one scrape."""
    series = {
        (labels.get("kind"), labels.get("name"), labels.get("namespace", "")): value
        for labels, value in ((dict(ls), v) for ls, v in c.series(COMPLIANCE).items())
    }
    return {str(o): series.get((o.kind, o.name, o.namespace)) for o in objects}


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
        timeout=20, what=f"a pass over {', '.join(assets)} after nudge {n}",
    )


def writes_to(cluster: Any, before: Counter[tuple[str, str, bool]],
              plurals: tuple[str, ...]) -> dict[str, int]:
    """Writes by the controller to each resource since the reading ``before``."""
    served = cluster.request_counts(user_agent=FIELD_MANAGER) - before
    return {p: sum(served[(v, p, False)] for v in WRITES) for p in plurals}


# A guard against a hang only: every step has its own bound (20 s each), and on a busy
# machine their sum passed the former 60 s while no step was late.
@pytest.mark.timeout(240)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_feature_on_then_off(case: FeatureCase, cluster: Any, controller: Any) -> None:
    platform = Platform(cluster)
    prepare(cluster, platform, case)
    c = controller(env=dict(case.env) or None)
    switch(platform, case.switch, case.switch_spec)
    # The case lists every object the feature renders in this cluster.
    assert rendered_identities(cluster, platform, case) == {str(o) for o in case.objects}

    # On: every object applied, labelled, compliant and carrying the key settings.
    for obj in case.objects:
        live = platform.wait_for(obj.path, owned, what=f"{obj} applied with the ownership label")
        if obj.check is not None:
            obj.check(live)
    eventually_sync(lambda: set(compliance(c, case.objects).values()) == {1},
                    timeout=20, what=f"every object of {case.feature} compliant")
    if case.cluster_check is not None:
        case.cluster_check(cluster)
    # No failure anywhere, once every asset (not only this feature's) had its pass.
    full_pass(c, platform, [a.name for a in golden().assets], 0)
    assert not c.log_lines("failed to apply"), c.log_lines("failed to apply")
    assert not c.log_lines("render failed"), c.log_lines("render failed")

    # Off: the series go away and the objects stay (switching off never deletes).
    before = cluster.request_counts(user_agent=FIELD_MANAGER)
    switch(platform, case.off_annotations, case.off_spec)
    eventually_sync(lambda: set(compliance(c, case.objects).values()) == {None},
                    timeout=20, what=f"compliance series of {case.feature} removed")
    assets = feature_assets(case.feature)
    full_pass(c, platform, assets, 1)

    # No further writes: a drift made now survives a full pass over the feature's assets.
    # (Quiet resources are counted around the test's own drift patch: a real API
    # server counts every client's requests.)
    quiet = writes_to(cluster, before, case.quiet_plurals)
    target = case.objects[0]
    platform.patch(target.path, dict(case.drift))
    before = cluster.request_counts(user_agent=FIELD_MANAGER)
    full_pass(c, platform, assets, 2)
    after = platform.get(target.path)
    assert after is not None and contains(after, case.drift), f"{target} was reverted: {after}"
    for obj in case.objects:
        assert platform.get(obj.path) is not None, f"{obj} deleted after switching off"
    assert set(compliance(c, case.objects).values()) == {None}
    later = writes_to(cluster, before, case.quiet_plurals)
    assert {p: n + later[p] for p, n in quiet.items()} == dict.fromkeys(case.quiet_plurals, 0)


def test_metrics_exporter_bad_env_json_is_a_render_failure(cluster: Any,
                                                           controller: Any) -> None:
    case = next(c for c in CASES if c.feature == "kubevirt-metrics-exporter")
    annotation = "platform.kubevirt.io/kubevirt-metrics-exporter-env"
    platform = Platform(cluster)
    prepare(cluster, platform, case)
    platform.annotate_hco({annotation: "{not json", **case.switch})
    c = controller(env=dict(case.env))
    daemonset, account = case.objects[0], case.objects[2]
    assert daemonset.kind == "DaemonSet" and account.kind == "ServiceAccount"
    events = eventually_sync(
        lambda: platform.events(name="kubevirt-hyperconverged", namespace=HCO_NS,
                                reason="RenderFailed"),
        what="a RenderFailed event on the HyperConverged",
    )
    assert events[0]["type"] == "Warning" and annotation in events[0]["note"], events[0]
    # The other assets of the feature are not held back by the broken one.
    platform.wait_for(account.path, owned, what=f"{account} applied")
    assert platform.get(daemonset.path) is None
    assert compliance(c, (daemonset,)) == {str(daemonset): None}
    # Fixing the annotation brings the DaemonSet.
    platform.annotate_hco({annotation: EXPORTER_ENV})
    live = platform.wait_for(daemonset.path, owned, what=f"{daemonset} applied once fixed")
    assert daemonset.check is not None
    daemonset.check(live)
