"""Contract §3 activation gate: idle without the annotation, everything with `true`, allowlists."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Paths, render_offline
from tests.support.passes import full_pass
from tests.support.platform import CRDS, HCO_NS, HCO_PATH, Platform, labels_of
from tests.support.wait import eventually_sync

MANAGED = "platform.kubevirt.io/managed-by"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/virt-platform-autopilot-metrics"
INSTALLED = {"v1"} | {f"{g}/{v}" for g, v, *_ in CRDS.values()}


def installed_objects(platform: Platform, annotations: dict[str, str]) -> list[dict[str, Any]]:
    """Rendered objects whose kinds the base platform installs."""
    base = {(f"{CRDS[k][0]}/{CRDS[k][1]}", k) for k in
            ("HyperConverged", "MachineConfig", "ServiceMonitor", "PrometheusRule", "UIPlugin",
             "PersesDashboard", "KubeDescheduler", "KubeletConfig")}
    out = []
    for obj in render_offline(annotations):
        key = (obj["apiVersion"], obj["kind"])
        if obj["apiVersion"] in ("v1", "apps/v1", "rbac.authorization.k8s.io/v1") or key in base:
            out.append(obj)
    return out


def test_idle_without_annotation_creates_nothing(platform: Platform, controller: Any) -> None:
    platform.create_hco()
    c = controller()
    eventually_sync(lambda: c.log_lines("autopilot idle"), what="idle log line")
    assert platform.get(SVC) is None
    assert c.series("virt_platform_compliance_status") == {}
    hco = platform.get(HCO_PATH)
    assert hco is not None and MANAGED not in labels_of(hco)


def test_true_applies_every_eligible_asset(platform: Platform, controller: Any,
                                           paths: Paths) -> None:
    annotations = {"platform.kubevirt.io/autopilot": "TRUE"}
    expected = installed_objects(platform, annotations)
    assert expected, "the golden state renders nothing for a default HCO"
    for ns in {o["metadata"].get("namespace") for o in expected} - {None, ""}:
        platform.ensure_namespace(ns)
    platform.create_hco(annotations)
    c = controller()
    for obj in expected:
        live = platform.wait_for(paths.of(obj), lambda o: labels_of(o).get(MANAGED) ==
                                 "virt-platform-autopilot", what=f"{obj['kind']} applied")
        meta = obj["metadata"]
        eventually_sync(
            lambda m=meta, o=obj: c.metric("virt_platform_compliance_status", kind=o["kind"],
                                           name=m["name"], namespace=m.get("namespace", "")) == 1,
            what=f"compliance 1 for {obj['kind']} {meta['name']}",
        )
        assert live is not None
    eventually_sync(lambda: platform.events(name="kubevirt-hyperconverged", namespace=HCO_NS,
                                            reason="ReconcileSucceeded"),
                    what="ReconcileSucceeded on the HCO")
    applied = c.log_lines("successfully applied")
    assert applied and all({"kind", "name", "namespace", "asset"} <= set(line) for line in applied)


def test_allowlist_by_name_and_group(platform: Platform, controller: Any) -> None:
    platform.create_hco({"platform.kubevirt.io/autopilot": "observability, no-such-asset"})
    c = controller()
    platform.wait_for(SVC, what="metrics Service applied through its group")
    eventually_sync(
        lambda: c.log_lines("autopilot allowlist names unknown assets"),
        what="unknown allowlist name logged",
    )
    warn = eventually_sync(
        lambda: [e for e in platform.events(name="kubevirt-hyperconverged", namespace=HCO_NS)
                 if "no-such-asset" in (e.get("note") or "")],
        what="a Warning event naming the unknown asset",
    )
    assert warn[0]["type"] == "Warning"
    # The HCO golden config is not in the allowlist: the HCO stays untouched (asserted
    # once every asset had its pass with this allowlist).
    full_pass(c, platform)
    hco = platform.get(HCO_PATH)
    assert hco is not None and MANAGED not in labels_of(hco)
    eventually_sync(
        lambda: c.metric("virt_platform_compliance_status", kind="Service",
                         name="virt-platform-autopilot-metrics", namespace=HCO_NS) == 1,
        what="Service compliant",
    )

    # Dropping the group from the list removes its series and leaves the object alone.
    platform.annotate_hco({"platform.kubevirt.io/autopilot": "hco-golden-config"})
    eventually_sync(
        lambda: c.metric("virt_platform_compliance_status", kind="Service",
                         name="virt-platform-autopilot-metrics", namespace=HCO_NS) is None,
        what="Service series removed",
    )
    full_pass(c, platform)
    assert platform.get(SVC) is not None
    platform.wait_for(HCO_PATH, lambda o: labels_of(o).get(MANAGED) == "virt-platform-autopilot",
                      what="HCO golden config applied by name")
