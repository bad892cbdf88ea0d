"""CRDDiscovered: said when a managed kind's CRD appears, not for what was there at start."""

from __future__ import annotations

from typing import Any

from tests.support.passes import full_pass
from tests.support.platform import HCO_NS, Platform
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


def test_the_first_crd_list_does_not_read_discovery_again(cluster: Any, controller: Any) -> None:
    # Discovery is read at start; the CRDs' first list repeats what it said, and used
    # to mark it stale, so that /api and /apis were read a second time straight away.
    platform = Platform(cluster)
    platform.install("HyperConverged", "MachineConfig", "ServiceMonitor")
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    before = cluster.request_counts(user_agent=UA)
    full_pass(controller(), platform)
    served = cluster.request_counts(user_agent=UA) - before
    discovery = sum(n for (verb, resource, _), n in served.items() if verb == "get"
                    and not resource)
    assert discovery == 2, served  # /api and /apis, once
