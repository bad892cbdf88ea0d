"""Every MachineConfig and KubeletConfig of every variant passes the MCO's own checks.

``../shared/mco-check/run`` is the Machine Config Operator's code, not a model of it
(:mod:`tests.support.mco_check`). The variants: every topology the catalogue knows
(single node, compact, standard, hosted control plane …) with every switch on and a
cluster where every lookup finds what it asks for, plus the same with the HCO's
kubelet max-pods override. A failure names the object and the MCO's reason.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import all_on_contexts
from autopilot.golden.lookups import SnapshotLookups
from autopilot.golden.render import render_asset
from tests.support.mco_check import McoVerdict, mco_check, require
from tests.support.rendering import load

# One worker gets the MCO checks' verdicts once for every test here (module-scoped).
pytestmark = pytest.mark.xdist_group("mco-check")
NODE_KINDS = ("MachineConfig", "KubeletConfig")
ROLE = "machineconfiguration.openshift.io/role"
STORAGE = SnapshotLookups([{
    "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
    "metadata": {"name": "standard",
                 "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}])


def _contexts(golden: GoldenState) -> Iterator[Any]:
    for ctx in all_on_contexts(golden):
        yield ctx
        hco = copy.deepcopy(ctx.hco)
        hco["metadata"].setdefault("annotations", {})[
            "platform.kubevirt.io/kubelet-max-pods"] = "500"
        yield dataclasses.replace(ctx, hco=hco)


def node_objects(golden: GoldenState) -> list[dict[str, Any]]:
    """Every distinct MachineConfig and KubeletConfig any variant renders."""
    seen: dict[str, dict[str, Any]] = {}
    for ctx in _contexts(golden):
        for asset in golden.assets:
            for obj in render_asset(golden, asset, ctx, lookups=STORAGE):
                if obj["kind"] in NODE_KINDS:
                    seen.setdefault(json.dumps(obj, sort_keys=True), obj)
    return list(seen.values())


@pytest.fixture(name="verdicts", scope="module")
def _verdicts() -> tuple[list[dict[str, Any]], list[McoVerdict]]:
    require()
    objects = node_objects(load())
    return objects, mco_check(objects)


def test_every_node_object_passes_the_mco_checks(
    verdicts: tuple[list[dict[str, Any]], list[McoVerdict]],
) -> None:
    objects, results = verdicts
    assert len(results) == len(objects), "mco-check skipped an object"
    failed = [f"{v.kind}/{v.name}: {v.detail}" for v in results if not v.ok]
    assert not failed, "\n".join(failed)
    rendered = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {(v.kind, v.name) for v in results} == rendered
    assert {"MachineConfig", "KubeletConfig"} <= {kind for kind, _ in rendered}


def test_each_machineconfig_lands_in_the_pool_its_role_names(
    verdicts: tuple[list[dict[str, Any]], list[McoVerdict]],
) -> None:
    objects, results = verdicts
    roles = {o["metadata"]["name"]: o["metadata"]["labels"][ROLE]
             for o in objects if o["kind"] == "MachineConfig"}
    pools = {v.name: v.pool for v in results if v.kind == "MachineConfig"}
    assert pools == roles
    assert all(v.action for v in results), [v for v in results if not v.action]


def test_the_mco_refuses_what_it_should(golden: GoldenState) -> None:
    """Not vacuous: an unknown field, a missing role and a forbidden kubelet field fail."""
    require()
    objects = node_objects(golden)
    mc = copy.deepcopy(next(o for o in objects if o["kind"] == "MachineConfig"))
    mc["metadata"]["name"] = "99-broken-unknown-field"
    mc["spec"]["kernelArgumentz"] = ["psi=1"]
    orphan = copy.deepcopy(mc)
    orphan["metadata"]["name"] = "99-broken-no-role"
    del orphan["spec"]["kernelArgumentz"]
    del orphan["metadata"]["labels"][ROLE]
    kc = copy.deepcopy(next(o for o in objects if o["kind"] == "KubeletConfig"))
    kc["metadata"]["name"] = "broken-fail-swap-on"
    kc["spec"]["kubeletConfig"]["failSwapOn"] = False
    results = {v.name: v for v in mco_check([mc, orphan, kc])}
    assert {name: v.ok for name, v in results.items()} == {
        "99-broken-unknown-field": False, "99-broken-no-role": False,
        "broken-fail-swap-on": False}
