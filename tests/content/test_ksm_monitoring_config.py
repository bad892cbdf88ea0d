"""KSM zero pages: the cluster-monitoring ConfigMap is merged into the user's config.yaml."""

from __future__ import annotations

from autopilot.golden.catalog import GoldenState
from autopilot.golden.templating import from_yaml
from tests.support.rendering import configmap, context, make_hco, one, plan, snapshot, text

ASSET = "ksm-zero-pages-monitoring-config"
HCO = make_hco({"platform.kubevirt.io/enable-ksm-zero-only": "true"})
USER_CONFIG = """\
prometheusK8s:
  retention: 15d
  volumeClaimTemplate:
    spec:
      resources:
        requests:
          storage: 100Gi
enableUserWorkload: true
nodeExporter:
  collectors:
    tcpstat:
      enabled: true
    ksmd:
      enabled: false
"""


def lookups_with(config: str | None):  # type: ignore[no-untyped-def]
    if config is None:
        return snapshot()
    return snapshot(configmap("openshift-monitoring", "cluster-monitoring-config",
                              {"config.yaml": config}))


def test_fresh_cluster_gets_only_the_ksmd_collector(golden: GoldenState) -> None:
    cm = one(golden, ASSET, context(HCO), lookups=lookups_with(None))
    assert cm["apiVersion"] == "v1" and cm["kind"] == "ConfigMap"
    assert (cm["metadata"]["namespace"], cm["metadata"]["name"]) == (
        "openshift-monitoring", "cluster-monitoring-config")
    assert from_yaml(cm["data"]["config.yaml"]) == {
        "nodeExporter": {"collectors": {"ksmd": {"enabled": True}}}
    }


def test_user_keys_are_kept(golden: GoldenState) -> None:
    cm = one(golden, ASSET, context(HCO), lookups=lookups_with(USER_CONFIG))
    merged = from_yaml(cm["data"]["config.yaml"])
    assert merged["prometheusK8s"] == from_yaml(USER_CONFIG)["prometheusK8s"]
    assert merged["enableUserWorkload"] is True
    assert merged["nodeExporter"]["collectors"] == {
        "tcpstat": {"enabled": True}, "ksmd": {"enabled": True}
    }
    assert list(merged) == ["prometheusK8s", "enableUserWorkload", "nodeExporter"]


def test_same_bytes_every_time_and_a_fixpoint(golden: GoldenState) -> None:
    first = text(golden, ASSET, context(HCO), lookups=lookups_with(USER_CONFIG))
    assert first == text(golden, ASSET, context(HCO), lookups=lookups_with(USER_CONFIG))
    # feeding our own result back (the next reconcile) changes nothing
    applied = one(golden, ASSET, context(HCO), lookups=lookups_with(USER_CONFIG))
    again = text(golden, ASSET, context(HCO), lookups=lookups_with(applied["data"]["config.yaml"]))
    assert again == first


def test_empty_or_null_config_counts_as_none(golden: GoldenState) -> None:
    for config in ("", "  \n", "null\n", "# only a comment\n"):
        cm = one(golden, ASSET, context(HCO), lookups=lookups_with(config))
        assert from_yaml(cm["data"]["config.yaml"]) == {
            "nodeExporter": {"collectors": {"ksmd": {"enabled": True}}}
        }


def test_unusable_user_config_fails_the_render_clearly(golden: GoldenState) -> None:
    for config, message in (("- a\n- b\n", "not a YAML mapping"), ("a: [\n", "invalid YAML")):
        result = plan(golden, ASSET, context(HCO), lookups=lookups_with(config))
        assert result.error is not None and message in result.error
        assert "\n" not in result.error
