"""The demo: a local API server (kubesim) seeded with a small platform, and the controller.

The CRDs are minimal, schema-less stand-ins generated from the kinds the
golden state renders, so the demo needs nothing outside the project.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from autopilot.golden.catalog import GoldenState
from autopilot.golden.kinds import plural_of, rendered_objects
from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.wellknown import CRDS, HCO, HCO_NAME, NAMESPACES, NODES

HCO_NAMESPACE = "openshift-cnv"
DEMO_ANNOTATIONS = {
    "platform.kubevirt.io/autopilot": "true",
    "platform.kubevirt.io/openshift": "true",
    "platform.kubevirt.io/enable-kubelet-performance-settings": "true",
    "platform.kubevirt.io/enable-thp-tuning": "true",
    "platform.kubevirt.io/enable-pci-passthrough": "true",
}
DEMO_NODES = (
    ("master-0", {"node-role.kubernetes.io/master": "",
                  "node-role.kubernetes.io/control-plane": ""}, True),
    ("worker-0", {"node-role.kubernetes.io/worker": "",
                  "feature.node.kubernetes.io/pci-present": "true"}, False),
    ("worker-1", {"node-role.kubernetes.io/worker": ""}, False),
)


def demo_token() -> str:
    """A fresh bearer token for the demo API server."""
    return secrets.token_urlsafe(24)


def custom_kinds(golden: GoldenState) -> dict[tuple[str, str], bool]:
    """(apiVersion, kind) -> namespaced, for every custom kind the golden state renders."""
    kinds: dict[tuple[str, str], bool] = {(HCO.api_version, HCO.kind): True}
    for _, obj in rendered_objects(golden)[0]:
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.rpartition("/")[0]
        if not group or group.endswith(".k8s.io") or group in ("apps", "batch", "policy"):
            continue
        namespaced = bool((obj.get("metadata") or {}).get("namespace"))
        kinds[(api_version, str(obj.get("kind", "")))] = namespaced
    return kinds


def minimal_crds(golden: GoldenState) -> list[dict[str, Any]]:
    """Schema-less CRDs (one per group/kind, all versions served) for the demo."""
    versions: dict[tuple[str, str], dict[str, bool]] = {}
    for (api_version, kind), namespaced in custom_kinds(golden).items():
        group, version = api_version.rsplit("/", 1)
        versions.setdefault((group, kind), {})[version] = namespaced
    crds = []
    for (group, kind), vers in sorted(versions.items()):
        plural = plural_of(kind, dict(golden.plurals))
        ordered = sorted(vers)
        crds.append({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced" if any(vers.values()) else "Cluster",
                "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                          "listKind": f"{kind}List"},
                "versions": [
                    {"name": v, "served": True, "storage": v == ordered[-1],
                     "schema": {"openAPIV3Schema": {
                         "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
                    for v in ordered
                ],
            },
        })
    return crds


def target_namespaces(golden: GoldenState) -> list[str]:
    """Namespaces the golden state renders into (created so every asset can apply)."""
    found = {HCO_NAMESPACE}
    for _, obj in rendered_objects(golden)[0]:
        ns = (obj.get("metadata") or {}).get("namespace")
        if ns:
            found.add(str(ns))
    return sorted(found)


async def _create(client: KubeClient, res: ResourceInfo, obj: dict[str, Any]) -> None:
    try:
        await client.create(res, obj, namespace=(obj.get("metadata") or {}).get("namespace"))
    except ApiError as exc:
        if exc.status != 409:
            raise


async def seed(client: KubeClient, golden: GoldenState) -> None:
    """Install the CRDs, namespaces, nodes and the HCO of the demo platform."""
    for crd in minimal_crds(golden):
        await _create(client, CRDS, crd)
    for ns in target_namespaces(golden):
        await _create(client, NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": {"name": ns}})
    for name, labels, master in DEMO_NODES:
        node: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "status": {"capacity": {"cpu": "16", "memory": "64Gi", "pods": "250"}},
        }
        if master:
            node["spec"] = {"taints": [{"key": "node-role.kubernetes.io/master",
                                         "effect": "NoSchedule"}]}
        await _create(client, NODES, node)
    await _create(client, HCO, {
        "apiVersion": HCO.api_version,
        "kind": HCO.kind,
        "metadata": {"name": HCO_NAME, "namespace": HCO_NAMESPACE,
                     "annotations": dict(DEMO_ANNOTATIONS)},
        "spec": {"featureGates": [{"name": "CPUManager", "state": "Enabled"}]},
    })


def instructions(kubeconfig: Path, metrics_port: int, debug_address: str) -> str:
    """What to try once the demo runs."""
    svc = "service/virt-platform-autopilot-metrics"
    ns = HCO_NAMESPACE
    return f"""
virt-platform-autopilot demo is running.

  export KUBECONFIG={kubeconfig}

Metrics (every managed object at 1 = in its Golden State):
  curl -s localhost:{metrics_port}/metrics | grep virt_platform_compliance_status

Drift: break something and watch it heal:
  kubectl -n {ns} patch {svc} --type merge -p '{{"spec":{{"selector":{{"app":"oops"}}}}}}'
  kubectl -n {ns} get {svc} -o jsonpath='{{.spec.selector}}'; echo

Force a real server-side check now:
  kubectl -n {ns} annotate {svc} platform.kubevirt.io/force-reconcile="$(date +%s)" --overwrite

Customize: keep a label of your own through the patch annotation:
  kubectl -n {ns} annotate {svc} --overwrite \\
    platform.kubevirt.io/patch='[{{"op":"add","path":"/metadata/labels/team","value":"blue"}}]'

Hand an object over (no more reconciliation):
  kubectl -n {ns} annotate {svc} platform.kubevirt.io/mode=unmanaged

Why is an object the way it is?
  autopilot explain Service virt-platform-autopilot-metrics -n {ns} --kubeconfig {kubeconfig} \\
    --debug-address {debug_address}
  curl -s {debug_address}/debug/features

Events:
  kubectl -n {ns} get events --field-selector involvedObject.name=virt-platform-autopilot-metrics

Ctrl-C stops the demo.
"""
