"""The HCO golden config imposes no cluster policy unless the HCO asks for it.

An administrator's memory overcommit stays theirs (no fight, no drift correction);
the annotation ``platform.kubevirt.io/memory-overcommit-percentage`` opts in, and
removing it hands the field back.
"""

from __future__ import annotations

from typing import Any

from tests.support.platform import HCO_NS, HCO_PATH, Platform, labels_of
from tests.support.wait import eventually_sync

MANAGED = "platform.kubevirt.io/managed-by"
OVERCOMMIT = "platform.kubevirt.io/memory-overcommit-percentage"


def overcommit(obj: dict[str, Any]) -> Any:
    spec = obj.get("spec") or {}
    return ((spec.get("virtualization") or {}).get("higherWorkloadDensity") or {}).get(
        "memoryOvercommitPercentage")


def managers_of_overcommit(obj: dict[str, Any]) -> set[str]:
    """Field managers that own the overcommit field."""
    owners = set()
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        fields = entry.get("fieldsV1") or {}
        virt = (fields.get("f:spec") or {}).get("f:virtualization") or {}
        density = virt.get("f:higherWorkloadDensity") or {}
        if "f:memoryOvercommitPercentage" in density:
            owners.add(entry.get("manager"))
    return owners


def test_administrators_overcommit_is_left_alone_until_the_annotation_asks(
    platform: Platform, controller: Any
) -> None:
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"},
                        spec={"virtualization": {"higherWorkloadDensity": {
                            "memoryOvercommitPercentage": 120}}})
    c = controller()
    platform.wait_for(HCO_PATH, lambda o: labels_of(o).get(MANAGED) == "virt-platform-autopilot",
                      what="HCO golden config applied")
    eventually_sync(
        lambda: c.metric("virt_platform_compliance_status", kind="HyperConverged",
                         name="kubevirt-hyperconverged", namespace=HCO_NS) == 1,
        what="the HCO in sync",
    )
    hco = platform.get(HCO_PATH)
    assert hco is not None and overcommit(hco) == 120
    assert "virt-platform-autopilot" not in managers_of_overcommit(hco)

    # The administrator changes it: no drift, no correction.
    platform.patch(HCO_PATH, {"spec": {"virtualization": {"higherWorkloadDensity": {
        "memoryOvercommitPercentage": 130}}}})
    platform.annotate_hco({"platform.kubevirt.io/force-reconcile": "1"})
    eventually_sync(lambda: c.log_lines("successfully applied", kind="HyperConverged")
                    or c.metric("virt_platform_compliance_status", kind="HyperConverged",
                                name="kubevirt-hyperconverged", namespace=HCO_NS) == 1,
                    what="HCO reconciled")
    hco = platform.get(HCO_PATH)
    assert hco is not None and overcommit(hco) == 130

    # Opt in: the annotation's value is applied and owned.
    platform.annotate_hco({OVERCOMMIT: "150"})
    hco = platform.wait_for(HCO_PATH, lambda o: overcommit(o) == 150,
                            what="overcommit from the annotation")
    assert "virt-platform-autopilot" in managers_of_overcommit(hco)


def test_a_bad_annotation_is_a_render_failure_not_a_crash(
    platform: Platform, controller: Any
) -> None:
    platform.create_hco({"platform.kubevirt.io/autopilot": "true", OVERCOMMIT: "lots"})
    controller()
    failed = eventually_sync(
        lambda: platform.events(name="kubevirt-hyperconverged", namespace=HCO_NS,
                                reason="RenderFailed"),
        what="RenderFailed event on the HCO",
    )
    assert "memory-overcommit-percentage" in (failed[0].get("note") or "")
    hco = platform.get(HCO_PATH)
    assert hco is not None and overcommit(hco) in (None, 100)  # the CRD's default, if any
    assert "virt-platform-autopilot" not in managers_of_overcommit(hco)
