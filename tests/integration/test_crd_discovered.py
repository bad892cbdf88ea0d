"""CRDDiscovered: said when a managed kind's CRD appears, not for what was there at start."""

from __future__ import annotations

from typing import Any

from tests.support.passes import full_pass
from tests.support.platform import CRDS, HCO_NS, Platform
from tests.support.wait import eventually_sync

HCO_NAME = "kubevirt-hyperconverged"
UA = "virt-platform-autopilot"


def _discovered(platform: Platform) -> list[str]:
    return [str(e.get("note", "")) for e in platform.events(
        name=HCO_NAME, namespace=HCO_NS, reason="CRDDiscovered")]


def test_crd_discovered_only_for_a_crd_that_appears(cluster: Any, controller: Any) -> None:
    platform = Platform(cluster)
    platform.install("HyperConverged", "MachineConfig", "ServiceMonitor")
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    c = controller()
    full_pass(c, platform)
    platform.install("PrometheusRule")
    notes = eventually_sync(
        lambda: [n for n in _discovered(platform) if n.startswith("PrometheusRule.")],
        what="CRDDiscovered for PrometheusRule",
    )
    assert notes == ["PrometheusRule.monitoring.coreos.com is now installed"]
    # Events go out in order: those of the start-up were sent before this one.
    at_start = [n for n in _discovered(platform) if not n.startswith("PrometheusRule.")]
    assert at_start == []


def _discovery_reads(cluster: Any, controller: Any, platform: Platform) -> int:
    before = cluster.request_counts(user_agent=UA)
    full_pass(controller(), platform)
    served = cluster.request_counts(user_agent=UA) - before
    return sum(n for (verb, resource, _), n in served.items() if verb == "get" and not resource)


def test_discovery_is_read_once_at_start_for_kinds_no_crd_serves(cluster: Any,
                                                                  controller: Any) -> None:
    # Only three of the kinds the golden state renders are installed: discovery is read
    # (/api and /apis, once) in case an aggregated API serves the others.
    platform = Platform(cluster)
    platform.install("HyperConverged", "MachineConfig", "ServiceMonitor")
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    assert _discovery_reads(cluster, controller, platform) == 2


def test_discovery_is_not_read_when_builtins_and_crds_serve_every_kind(cluster: Any,
                                                                      controller: Any) -> None:
    platform = Platform(cluster)
    platform.install(*CRDS)
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    assert _discovery_reads(cluster, controller, platform) == 0
