"""Contract §6: an edit war pauses the object once, and the pause survives restarts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.editwar import EditWar
from tests.support.passes import passes_over
from tests.support.platform import HCO_NS, Platform, annotations_of
from tests.support.wait import eventually_sync

SVC_NAME = "virt-platform-autopilot-metrics"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/{SVC_NAME}"
PAUSED = "platform.kubevirt.io/reconcile-paused"


def selector_app(platform: Platform) -> str | None:
    obj = platform.get(SVC) or {}
    return ((obj.get("spec") or {}).get("selector") or {}).get("app")


@pytest.mark.timeout(120)
def test_edit_war_pauses_once_and_resumes(platform: Platform, controller: Any) -> None:
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    c = controller()
    platform.wait_for(SVC, what="metrics Service")
    with EditWar(platform, SVC):
        platform.wait_for(SVC, lambda o: annotations_of(o).get(PAUSED) == "true",
                          timeout=60, what="pause annotation")
        eventually_sync(lambda: c.metric("virt_platform_paused_resources", kind="Service",
                                         name=SVC_NAME, namespace=HCO_NS) == 1, what="paused 1")
        # Keep fighting: the passes the edits trigger must not write to a paused object.
        writes = len(c.log_lines("successfully applied", name=SVC_NAME))
        asset = c.log_lines("successfully applied", name=SVC_NAME)[0]["asset"]
        passes = passes_over(c, asset)
        eventually_sync(lambda: passes_over(c, asset) >= passes + 5,
                        what="five more passes during the war")
        assert len(c.log_lines("successfully applied", name=SVC_NAME)) == writes
    assert c.metric("virt_platform_thrashing_total", kind="Service", name=SVC_NAME,
                    namespace=HCO_NS) == 1
    events = eventually_sync(lambda: platform.events(name=SVC_NAME, namespace=HCO_NS,
                                                     reason="ThrashingDetected"),
                             what="ThrashingDetected")
    assert len(events) == 1
    assert (events[0].get("series") or {}).get("count", 1) == 1
    assert PAUSED in events[0]["note"] and "unmanaged" in events[0]["note"]

    # Removing the annotation resumes and restores the golden value.
    platform.patch(SVC, {"metadata": {"annotations": {PAUSED: None}}})
    eventually_sync(lambda: selector_app(platform) == "virt-platform-autopilot",
                    what="restored after resume")
    eventually_sync(lambda: c.metric("virt_platform_paused_resources", kind="Service",
                                     name=SVC_NAME, namespace=HCO_NS) is None, what="unpaused")


def test_pause_survives_a_restart(platform: Platform, controller: Any) -> None:
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    c = controller()
    platform.wait_for(SVC, what="metrics Service")
    eventually_sync(lambda: c.log_lines("successfully applied", name=SVC_NAME), what="applied")
    c.stop()
    platform.patch(SVC, {"metadata": {"annotations": {PAUSED: "true"}},
                         "spec": {"selector": {"app": "left-alone"}}})
    c2 = controller()
    eventually_sync(lambda: c2.metric("virt_platform_paused_resources", kind="Service",
                                      name=SVC_NAME, namespace=HCO_NS) == 1,
                    what="paused after restart")
    assert selector_app(platform) == "left-alone"
    assert not c2.log_lines("successfully applied", name=SVC_NAME)
