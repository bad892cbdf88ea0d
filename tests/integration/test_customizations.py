"""Contract §3: patch, ignore-fields, unmanaged and disabled-resources, as an admin uses them."""

from __future__ import annotations

import json
from typing import Any

from tests.support.passes import full_pass, passes_over
from tests.support.platform import HCO_NS, Platform, annotations_of, labels_of
from tests.support.wait import eventually_sync

SVC_NAME = "virt-platform-autopilot-metrics"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/{SVC_NAME}"
SM = f"/apis/monitoring.coreos.com/v1/namespaces/{HCO_NS}/servicemonitors/{SVC_NAME}"
ON = {"platform.kubevirt.io/autopilot": "true"}
COMPLIANCE = "virt_platform_compliance_status"
INFO = "virt_platform_customization_info"


def selector(obj: dict[str, Any] | None) -> dict[str, str]:
    return dict(((obj or {}).get("spec") or {}).get("selector") or {})


def start(platform: Platform, controller: Any, hco: dict[str, str] | None = None) -> Any:
    platform.create_hco({**ON, **(hco or {})})
    c = controller()
    platform.wait_for(SVC, what="metrics Service")
    return c


def annotate(platform: Platform, path: str, key: str, value: str | None) -> None:
    platform.patch(path, {"metadata": {"annotations": {key: value}}})


def test_patch_is_kept_against_tampering_and_removal_restores(platform: Platform,
                                                               controller: Any) -> None:
    c = start(platform, controller)
    patch = json.dumps([{"op": "add", "path": "/metadata/labels/tier", "value": "gold"}])
    annotate(platform, SVC, "platform.kubevirt.io/patch", patch)
    platform.wait_for(SVC, lambda o: labels_of(o).get("tier") == "gold", what="patch applied")
    eventually_sync(lambda: c.metric(INFO, kind="Service", name=SVC_NAME, namespace=HCO_NS,
                                     type="patch") == 1, what="customization_info patch")
    eventually_sync(lambda: platform.events(name=SVC_NAME, namespace=HCO_NS,
                                            reason="PatchApplied"), what="PatchApplied event")
    # Tampering with the patched value is drift like any other.
    platform.patch(SVC, {"metadata": {"labels": {"tier": "bronze"}}})
    platform.wait_for(SVC, lambda o: labels_of(o).get("tier") == "gold", what="patch re-applied")
    # Removing the patch restores the original and drops the series.
    annotate(platform, SVC, "platform.kubevirt.io/patch", None)
    platform.wait_for(SVC, lambda o: "tier" not in labels_of(o), what="original restored")
    eventually_sync(lambda: c.metric(INFO, kind="Service", name=SVC_NAME, namespace=HCO_NS,
                                     type="patch") is None, what="patch series removed")


def test_invalid_patches_are_refused_with_a_reason(platform: Platform, controller: Any) -> None:
    c = start(platform, controller)
    cases = {
        "not json": "invalid JSON",
        json.dumps([{"op": "replace", "path": "/metadata/name", "value": "x"}]): "forbidden path",
        json.dumps([{"op": "remove", "path": "/spec/selector/nope"}]): "failed",
    }
    for value, reason in cases.items():
        annotate(platform, SVC, "platform.kubevirt.io/patch", value)
        eventually_sync(
            lambda r=reason: [e for e in platform.events(name=SVC_NAME, namespace=HCO_NS,
                                                         reason="InvalidPatch")
                              if r in (e.get("note") or "")],
            what=f"InvalidPatch event mentioning {reason!r}",
        )
        full_pass(c, platform)  # a refused patch stays refused on the passes after
        live = platform.get(SVC)
        assert live is not None and live["metadata"]["name"] == SVC_NAME
        assert selector(live).get("app") == "virt-platform-autopilot"


def test_patch_on_sensitive_kind_is_refused(platform: Platform, controller: Any) -> None:
    c = start(platform, controller)
    eventually_sync(lambda: [line for line in c.log_lines("successfully applied")
                             if line.get("kind") == "MachineConfig"], what="a MachineConfig")
    mcs = [line for line in c.log_lines("successfully applied") if line.get("kind") ==
           "MachineConfig"]
    name = mcs[0]["name"]
    path = f"/apis/machineconfiguration.openshift.io/v1/machineconfigs/{name}"
    patch = json.dumps([{"op": "add", "path": "/metadata/labels/x", "value": "y"}])
    annotate(platform, path, "platform.kubevirt.io/patch", patch)
    eventually_sync(
        lambda: [e for e in platform.events(name=name, namespace="default", reason="InvalidPatch")
                 if "sensitive" in (e.get("note") or "")],
        what="InvalidPatch (sensitive) on the MachineConfig",
    )
    full_pass(c, platform)  # refused on every pass, not only the one that reported it
    live = platform.get(path)
    assert live is not None and "x" not in labels_of(live)


def test_ignore_fields_keeps_user_values(platform: Platform, controller: Any) -> None:
    c = start(platform, controller)
    platform.wait_for(SM, what="ServiceMonitor")
    annotate(platform, SM, "platform.kubevirt.io/ignore-fields",
             "/spec/endpoints/0/interval, spec/bad-pointer")
    platform.patch(SM, [{"op": "replace", "path": "/spec/endpoints/0/interval", "value": "59s"}],
                   patch_type="json")
    eventually_sync(
        lambda: [e for e in platform.events(name=SVC_NAME, namespace=HCO_NS,
                                            reason="InvalidIgnoreFields")
                 if "spec/bad-pointer" in (e.get("note") or "")],
        what="InvalidIgnoreFields naming the bad pointer",
    )
    eventually_sync(lambda: c.metric(INFO, kind="ServiceMonitor", name=SVC_NAME,
                                     namespace=HCO_NS, type="ignore") == 1, what="ignore info")
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="ServiceMonitor", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, what="compliant with user value")
    sm = platform.get(SM)
    assert sm is not None and sm["spec"]["endpoints"][0]["interval"] == "59s"
    # Removing the annotation restores the golden value.
    annotate(platform, SM, "platform.kubevirt.io/ignore-fields", None)
    platform.wait_for(SM, lambda o: o["spec"]["endpoints"][0]["interval"] != "59s",
                      what="golden interval restored")


def test_unmanaged_hands_the_object_over(platform: Platform, controller: Any) -> None:
    c = start(platform, controller)
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, what="compliant")
    annotate(platform, SVC, "platform.kubevirt.io/mode", "unmanaged")
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME,
                                     namespace=HCO_NS) is None, what="series removed")
    assert c.metric(INFO, kind="Service", name=SVC_NAME, namespace=HCO_NS, type="unmanaged") == 1
    # Events go out once the work in hand is done (at most 2 s later).
    eventually_sync(lambda: platform.events(name=SVC_NAME, namespace=HCO_NS,
                                            reason="UnmanagedMode"), what="UnmanagedMode")
    asset = c.log_lines("successfully applied", kind="Service", name=SVC_NAME)[0]["asset"]
    passes = passes_over(c, asset)
    platform.patch(SVC, {"spec": {"selector": {"app": "mine"}}})
    # The pass the edit triggers must neither revert nor re-announce.
    eventually_sync(lambda: passes_over(c, asset) > passes,
                    what="a pass over the edited object")
    assert selector(platform.get(SVC)).get("app") == "mine"
    events = platform.events(name=SVC_NAME, namespace=HCO_NS, reason="UnmanagedMode")
    assert len(events) == 1 and (events[0].get("series") or {}).get("count", 1) == 1
    annotate(platform, SVC, "platform.kubevirt.io/mode", None)
    platform.wait_for(SVC, lambda o: selector(o).get("app") == "virt-platform-autopilot",
                      what="managed again and restored")
    assert "platform.kubevirt.io/mode" not in annotations_of(platform.get(SVC) or {})


def test_disabled_resources(platform: Platform, controller: Any) -> None:
    rules = "- kind: ServiceMonitor\n  name: virt-*-metrics\n"
    c = start(platform, controller, {"platform.kubevirt.io/disabled-resources": rules})
    eventually_sync(lambda: c.metric(COMPLIANCE, kind="Service", name=SVC_NAME,
                                     namespace=HCO_NS) == 1, what="Service applied")
    # The ServiceMonitor's asset comes after the Service's: only once it had a pass
    # does "not applied" mean "excluded".
    full_pass(c, platform)
    assert platform.get(SM) is None
    assert c.metric(COMPLIANCE, kind="ServiceMonitor", name=SVC_NAME, namespace=HCO_NS) is None
    # Invalid YAML fails open: the ServiceMonitor is applied and the admin is told.
    platform.annotate_hco({"platform.kubevirt.io/disabled-resources": "- kind: [unclosed"})
    platform.wait_for(SM, what="ServiceMonitor applied once exclusions fail open")
    eventually_sync(lambda: platform.events(name="kubevirt-hyperconverged", namespace=HCO_NS,
                                            reason="InvalidDisabledResources"),
                    what="InvalidDisabledResources event")
