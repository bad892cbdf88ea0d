"""The product still works under least privilege: every asset, all opt-ins at once.

One cluster prepared for every feature case at the same time (their CRDs, namespaces,
nodes, pre-existing objects and environment), an HCO switching every feature on, and the
controller running as its service account with the shipped RBAC (the generated
ClusterRole and per-namespace Roles). Every object the golden state renders for that
cluster, the exporter's ClusterRoles and bindings, its SCC and the logging collector's
ClusterRoleBindings included, ends compliant (1), and nothing is refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.golden.catalog import load_golden_state
from autopilot.golden.context import build_context
from autopilot.golden.gate import parse_activation
from autopilot.golden.lookups import SnapshotLookups
from autopilot.golden.plan import plan_asset
from tests.support.controller import Controller
from tests.support.features_support import CASES
from tests.support.platform import CRDS, HCO_NS, HCO_PATH, PROJECT, Platform
from tests.support.wait import eventually_sync

COMPLIANCE = "virt_platform_compliance_status"


def _nodes() -> list[dict[str, Any]]:
    """Every case's nodes, one per name, their labels merged."""
    merged: dict[str, dict[str, Any]] = {}
    for case in CASES:
        for body in case.nodes:
            name = body["metadata"]["name"]
            into = merged.setdefault(name, {**body, "metadata": {"name": name, "labels": {}}})
            into["metadata"]["labels"].update(body["metadata"].get("labels") or {})
    return list(merged.values())


def _hco_on() -> tuple[dict[str, str], dict[str, Any]]:
    """Annotations and spec switching every feature on (feature gates merged)."""
    annotations: dict[str, str] = {}
    gates: dict[str, dict[str, Any]] = {}
    spec: dict[str, Any] = {}
    for case in CASES:
        annotations.update(case.annotations)
        annotations.update(case.switch)
        for part in (case.spec, case.switch_spec or {}):
            for key, value in part.items():
                if key == "featureGates":
                    gates.update({g["name"]: g for g in value})
                else:
                    spec[key] = value
    if gates:
        spec["featureGates"] = list(gates.values())
    return annotations, spec


def _prepare(cluster: Any, platform: Platform) -> list[dict[str, Any]]:
    # Every kind of the platform table: the always-on assets' too (ServiceMonitor, ...),
    # the SCC, LokiStack and ClusterLogForwarder included.
    platform.install(*CRDS)
    for ns in sorted({ns for case in CASES for ns in case.namespaces}):
        platform.ensure_namespace(ns)
    for body in _nodes():
        status, created = cluster.api("POST", "/api/v1/nodes", body=body)
        assert status == 201, created
    existing: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for case in CASES:
        for collection, body in case.existing:
            key = (collection, body["metadata"]["name"])
            if key not in seen:
                seen.add(key)
                status, created = cluster.api("POST", collection, body=body)
                assert status == 201, created
                existing.append(body)
    return existing


def _expected(cluster: Any, platform: Platform, existing: list[dict[str, Any]],
              env: dict[str, str]) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of everything the golden state renders for this cluster."""
    hco = platform.get(HCO_PATH)
    status, nodes = cluster.api("GET", "/api/v1/nodes")
    assert hco is not None and status == 200, nodes
    golden = load_golden_state(PROJECT / "golden_state")
    ctx = build_context(hco=hco, nodes=nodes.get("items") or [], infrastructure=None,
                        scheduler=None, environ=env, version=golden.version,
                        namespace=HCO_NS)
    out = set()
    for asset in golden.assets:
        plan = plan_asset(golden, asset, ctx, activation=parse_activation("true"),
                          lookups=SnapshotLookups(existing))
        for obj in plan.objects:
            meta = obj["metadata"]
            out.add((str(obj["kind"]), str(meta.get("namespace") or ""), str(meta["name"])))
    return out


def _compliance(c: Controller) -> dict[tuple[str, str, str], float]:
    return {(ls.get("kind", ""), ls.get("namespace", ""), ls.get("name", "")): v
            for ls, v in ((dict(labels), v) for labels, v in c.series(COMPLIANCE).items())}


@pytest.mark.timeout(420)
def test_every_asset_converges_as_the_service_account(cluster: Any, controller: Any) -> None:
    platform = Platform(cluster)
    existing = _prepare(cluster, platform)
    annotations, spec = _hco_on()
    platform.create_hco({"platform.kubevirt.io/autopilot": "true", **annotations}, spec=spec)
    env = {k: v for case in CASES for k, v in case.env.items()}
    c = controller(env=env or None)
    expected = _expected(cluster, platform, existing, env)
    kinds = {kind for kind, _, _ in expected}
    for wanted in ("ClusterRole", "ClusterRoleBinding", "RoleBinding", "Role", "DaemonSet",
                   "SecurityContextConstraints", "MachineConfig"):
        assert wanted in kinds, f"no {wanted} rendered: the case set no longer covers it"

    def not_compliant() -> dict[tuple[str, str, str], float | None]:
        series = _compliance(c)
        return {key: series.get(key) for key in sorted(expected) if series.get(key) != 1}

    try:
        eventually_sync(lambda: not not_compliant(), timeout=180,
                        what="every rendered object compliant (1)")
    except AssertionError:
        pytest.fail(f"not compliant: {not_compliant()}; refused: "
                    f"{[line.get('error') for line in c.log_lines('failed to apply')][:5]}")
    refused = c.log_lines("failed to apply")
    assert refused == [], refused
