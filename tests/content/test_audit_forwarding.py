"""What the audit pipeline forwards, event by event.

The ClusterLogForwarder's audit pipeline, evaluated the way the Cluster Logging
Operator documents its filters (:mod:`tests.support.audit_forwarding`), on audit
events shaped like the kube-apiserver's (audit.k8s.io/v1 Event).
"""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from tests.support.audit_forwarding import (
    DROPPED,
    KEPT,
    SERVICE_ACCOUNT,
    event,
    forwarded,
    rule_matches,
)
from tests.support.rendering import context, make_hco, one

P = "platform.kubevirt.io/"
@pytest.fixture(name="spec")
def _spec(golden: GoldenState) -> dict[str, Any]:
    hco = make_hco({P + "enable-logging": "true", P + "enable-audit-logging": "true"})
    spec: dict[str, Any] = one(golden, "logging-clusterlogforwarder", context(hco))["spec"]
    return spec


@pytest.mark.parametrize("what", sorted(KEPT))
def test_kept(spec: dict[str, Any], what: str) -> None:
    assert forwarded(spec, KEPT[what]), what


@pytest.mark.parametrize("what", sorted(DROPPED))
def test_dropped(spec: dict[str, Any], what: str) -> None:
    assert not forwarded(spec, DROPPED[what]), what


def test_secrets_are_never_forwarded_with_their_contents(spec: dict[str, Any]) -> None:
    [policy] = [f["kubeAPIAudit"] for f in spec["filters"] if f["type"] == "kubeAPIAudit"]
    for verb in ("get", "create", "update", "patch"):
        ev = event(SERVICE_ACCOUNT, verb, resource="secrets", namespace="a", name="db")
        level = next(r["level"] for r in policy["rules"] if rule_matches(r, ev))
        assert level == "Metadata", verb


def test_the_model_catches_the_old_first_match_rule() -> None:
    """The evaluator is not vacuous: a policy that drops every read loses the Secret read."""
    old = {"pipelines": [{"inputRefs": ["audit"], "filterRefs": ["p"]}],
           "filters": [{"name": "p", "type": "kubeAPIAudit", "kubeAPIAudit": {"rules": [
               {"level": "None", "verbs": ["get", "list", "watch"]},
               {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]},
               {"level": "Request"}]}}]}
    assert not forwarded(old, KEPT["a person reads a Secret"])
    assert not forwarded(old, KEPT["a write refused for a conflict"])
    assert forwarded(old, KEPT["a person deletes a VM"])
