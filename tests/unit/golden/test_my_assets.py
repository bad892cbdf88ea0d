"""What the framework, observability and swap assets carry."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import pytest
from ruamel.yaml import YAML

from autopilot.golden.catalog import GoldenState
from autopilot.golden.context import RenderContext
from autopilot.golden.lookups import OfflineLookups
from autopilot.golden.render import RenderError, render_asset

SCRIPTS = ("swap_online.py", "swap_watermark_tuning.py", "io_latency_protection.py")


def _ctx(annotations: dict[str, str] | None = None) -> RenderContext:
    hco = {"metadata": {"name": "kubevirt-hyperconverged", "namespace": "openshift-cnv",
                        "annotations": annotations or {}},
           "spec": {"security": {"certConfig": {"ca": {"duration": "1h"}}}}}
    return RenderContext(hco=hco, namespace="openshift-cnv", version="v9")


def _one(golden: GoldenState, name: str, ctx: RenderContext | None = None) -> dict[str, Any]:
    [obj] = render_asset(golden, golden.asset(name), ctx or _ctx(), lookups=OfflineLookups())
    return obj


def _decode(source: str) -> str:
    assert source.startswith("data:;base64,")
    return gzip.decompress(base64.b64decode(source[len("data:;base64,"):])).decode()


def test_hco_golden_config_owns_only_a_small_spec(golden: GoldenState) -> None:
    hco = _one(golden, "hco-golden-config")
    assert (hco["apiVersion"], hco["kind"]) == ("hco.kubevirt.io/v1", "HyperConverged")
    assert hco["metadata"]["namespace"] == "openshift-cnv"
    annotations = hco["metadata"]["annotations"]
    assert annotations["platform.kubevirt.io/managed-by"] == "virt-platform-autopilot"
    assert annotations["platform.kubevirt.io/golden-state-version"] == "v9"
    # No cluster policy unless asked for: no spec at all (so never security/certConfig).
    assert "spec" not in hco


def test_hco_memory_overcommit_only_when_the_annotation_asks(golden: GoldenState) -> None:
    key = "platform.kubevirt.io/memory-overcommit-percentage"
    hco = _one(golden, "hco-golden-config", _ctx({key: " 150 "}))
    assert hco["spec"] == {"virtualization": {"higherWorkloadDensity": {
        "memoryOvercommitPercentage": 150}}}
    assert "spec" not in _one(golden, "hco-golden-config", _ctx({key: ""}))
    for bad in ("lots", "9", "-150", "1.5", "150%", "\u00b2"):
        with pytest.raises(RenderError, match="memory-overcommit-percentage must be an integer"):
            _one(golden, "hco-golden-config", _ctx({key: bad}))


def test_swap_machineconfig(golden: GoldenState) -> None:
    mc = _one(golden, "swap-worker-machineconfig")
    assert mc["metadata"]["name"] == "90-worker-swap-online"
    assert mc["metadata"]["labels"]["machineconfiguration.openshift.io/role"] == "worker"
    config = mc["spec"]["config"]
    files = {f["path"]: f for f in config["storage"]["files"]}
    for f in files.values():
        assert f["contents"]["compression"] == "gzip"
    kubelet = YAML(typ="safe").load(
        _decode(files["/etc/openshift/kubelet.conf.d/90-swap.conf"]["contents"]["source"]))
    assert kubelet["failSwapOn"] is False
    assert kubelet["memorySwap"] == {"swapBehavior": "LimitedSwap"}
    for script in SCRIPTS:
        shipped = (golden.root / "files" / "scripts" / script).read_text()
        assert _decode(files[f"/usr/local/bin/{script}"]["contents"]["source"]) == shipped
        assert files[f"/usr/local/bin/{script}"]["mode"] == 0o755
    units = {u["name"]: u for u in config["systemd"]["units"]}
    online = units["swap-online.service"]["contents"]
    assert "ExecStart=/usr/bin/python3 /usr/local/bin/swap_online.py" in online
    assert "ConditionFirstBoot=no" in online
    assert {"swap-online.service", "swap-watermark-tuning.service",
            "io-latency-protection.service"} <= set(units)
    for name in ("swap-watermark-tuning.service", "io-latency-protection.service"):
        assert units[name]["enabled"] is True and "After=swap-online.service" in \
            units[name]["contents"]
    dropin = units["system.slice"]["dropins"][0]["contents"]
    assert dropin.split() == ["[Slice]", "MemorySwapMax=0", "IOWeight=800", "CPUWeight=800"]
    pods = units["kubepods.slice"]["dropins"][0]["contents"]
    assert pods.split() == ["[Slice]", "IOWeight=100"]


def test_observability_objects(golden: GoldenState) -> None:
    svc = _one(golden, "autopilot-metrics-service")
    assert svc["spec"]["selector"] == {"app": "virt-platform-autopilot"}
    assert svc["spec"]["ports"][0]["name"] == "metrics" and svc["spec"]["ports"][0]["port"] == 8080
    sm = _one(golden, "autopilot-servicemonitor")
    assert sm["spec"]["endpoints"] == [
        # Each replica's own series: one copy of every object in Prometheus.
        {"port": "metrics", "path": "/metrics/replica", "interval": "30s", "scheme": "http",
         "honorLabels": True}]
    plugin = _one(golden, "monitoring-uiplugin")
    # Not opted in: the field is not ours at all (never incidents.enabled=false).
    assert plugin["spec"]["monitoring"] == {"perses": {"enabled": True}}
    on = _one(golden, "monitoring-uiplugin",
              _ctx({"platform.kubevirt.io/enable-incident-detection": "true"}))
    assert on["spec"]["monitoring"]["incidents"] == {"enabled": True}
    dash = _one(golden, "asset-health-dashboard")
    assert dash["apiVersion"] == "perses.dev/v1alpha2"
    panels = dash["spec"]["config"]["panels"]
    queries = " ".join(
        p["spec"]["queries"][0]["spec"]["plugin"]["spec"]["query"] for p in panels.values())
    for metric in ("virt_platform_compliance_status", "virt_platform_thrashing_total",
                   "virt_platform_paused_resources", "virt_platform_customization_info",
                   "virt_platform_missing_dependency", "ALERTS", "histogram_quantile(0.95",
                   "histogram_quantile(0.99"):
        assert metric in queries
    items = dash["spec"]["config"]["layouts"][0]["spec"]["items"]
    assert {i["content"]["$ref"].rsplit("/", 1)[1] for i in items} == set(panels)
