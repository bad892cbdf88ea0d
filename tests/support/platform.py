"""A small OpenShift Virtualization platform inside a test cluster.

Installs the CRDs a scenario needs (the real published schemas from
``../shared/crds`` when present, else minimal schema-less stand-ins), the HCO
namespace and the HyperConverged object, and offers the reads tests assert on.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from tests.support.wait import eventually_sync

PROJECT = Path(__file__).resolve().parents[2]
SHARED = PROJECT.parent / "shared"
HCO_NS = "openshift-cnv"
HCO_NAME = "kubevirt-hyperconverged"
HCO_PATH = f"/apis/hco.kubevirt.io/v1/namespaces/{HCO_NS}/hyperconvergeds/{HCO_NAME}"

# kind -> (group, version, plural, scope, shared CRD file)
CRDS: dict[str, tuple[str, str, str, str, str]] = {
    "HyperConverged": ("hco.kubevirt.io", "v1", "hyperconvergeds", "Namespaced",
                       "kubevirt/hyperconverged-crd.yaml"),
    "MachineConfig": ("machineconfiguration.openshift.io", "v1", "machineconfigs", "Cluster",
                      "openshift/machineconfig-crd.yaml"),
    "KubeletConfig": ("machineconfiguration.openshift.io", "v1", "kubeletconfigs", "Cluster",
                      "openshift/kubeletconfig-crd.yaml"),
    "MachineConfigPool": ("machineconfiguration.openshift.io", "v1", "machineconfigpools",
                          "Cluster", "openshift/machineconfigpool-crd.yaml"),
    "ServiceMonitor": ("monitoring.coreos.com", "v1", "servicemonitors", "Namespaced",
                       "prometheus/monitoring.coreos.com_servicemonitors.yaml"),
    "PrometheusRule": ("monitoring.coreos.com", "v1", "prometheusrules", "Namespaced",
                       "prometheus/monitoring.coreos.com_prometheusrules.yaml"),
    "UIPlugin": ("observability.openshift.io", "v1alpha1", "uiplugins", "Cluster",
                 "observability/observability.openshift.io_uiplugins.yaml"),
    "PersesDashboard": ("perses.dev", "v1alpha1", "persesdashboards", "Namespaced",
                        "observability/perses.dev_persesdashboards.yaml"),
    "KubeDescheduler": ("operator.openshift.io", "v1", "kubedeschedulers", "Namespaced",
                        "openshift/operator.openshift.io_kubedeschedulers.yaml"),
    "MetalLB": ("metallb.io", "v1beta1", "metallbs", "Namespaced",
                "operators/metallb.io_metallbs.yaml"),
    "NodeHealthCheck": ("remediation.medik8s.io", "v1alpha1", "nodehealthchecks", "Cluster",
                        "remediation/nodehealthchecks.remediation.medik8s.io.yaml"),
    "ForkliftController": ("forklift.konveyor.io", "v1beta1", "forkliftcontrollers",
                           "Namespaced", "operators/forklift.konveyor.io_forkliftcontrollers.yaml"),
    "StorageBasedRemediationConfig": (
        "storage-based-remediation.medik8s.io", "v1alpha1", "storagebasedremediationconfigs",
        "Namespaced",
        "remediation/storagebasedremediationconfigs.storage-based-remediation.medik8s.io.yaml"),
    "PersesDatasource": ("perses.dev", "v1alpha2", "persesdatasources", "Namespaced",
                         "observability/perses.dev_persesdatasources.yaml"),
    "OperationRuleSet": ("ifo.kubevirt.io", "v1alpha1", "operationrulesets", "Cluster",
                         "inflightoperations/ifo.kubevirt.io_operationrulesets.yaml"),
    "LokiStack": ("loki.grafana.com", "v1", "lokistacks", "Namespaced",
                  "observability/loki.grafana.com_lokistacks.yaml"),
    "ClusterLogForwarder": ("observability.openshift.io", "v1", "clusterlogforwarders",
                            "Namespaced",
                            "observability/observability.openshift.io_clusterlogforwarders.yaml"),
    "SecurityContextConstraints": ("security.openshift.io", "v1", "securitycontextconstraints",
                                   "Cluster", "openshift/securitycontextconstraints-crd.yaml"),
    "PodMonitor": ("monitoring.coreos.com", "v1", "podmonitors", "Namespaced",
                   "prometheus/monitoring.coreos.com_podmonitors.yaml"),
    "Scheduler": ("config.openshift.io", "v1", "schedulers", "Cluster",
                  "openshift/scheduler-crd.yaml"),
    "Infrastructure": ("config.openshift.io", "v1", "infrastructures", "Cluster",
                       "openshift/infrastructure-crd.yaml"),
}

BASE_KINDS = ("HyperConverged", "MachineConfig", "ServiceMonitor", "PrometheusRule", "UIPlugin",
              "PersesDashboard", "KubeDescheduler", "KubeletConfig")


def minimal_crd(kind: str) -> dict[str, Any]:
    """A schema-less CRD for ``kind`` (used when the published schema is not at hand)."""
    group, version, plural, scope, _ = CRDS[kind]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                      "listKind": f"{kind}List"},
            "versions": [{
                "name": version, "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }],
        },
    }


@cache
def _stand_ins() -> Path:
    """One folder per process for the generated stand-in CRDs, removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="crds-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def crd_paths(kinds: Iterable[str]) -> list[Path]:
    """Files to install for ``kinds``: shared schemas when present, else generated stand-ins."""
    paths: list[Path] = []
    tmp = _stand_ins()
    for kind in kinds:
        shared = SHARED / "crds" / CRDS[kind][4]
        if shared.is_file():
            paths.append(shared)
        else:
            path = tmp / f"{kind}.json"
            path.write_text(json.dumps(minimal_crd(kind)))
            paths.append(path)
    return paths


def crd_name(kind: str) -> str:
    """``plural.group`` of a known kind."""
    group, _, plural, _, _ = CRDS[kind]
    return f"{plural}.{group}"


class Platform:
    """Helpers bound to one test cluster."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster

    def install(self, *kinds: str) -> None:
        """Install CRDs (waits until served)."""
        self.cluster.install_crds(*crd_paths(kinds))

    def ensure_namespace(self, name: str) -> None:
        """Create a namespace if it does not exist."""
        status, _ = self.cluster.api(
            "POST", "/api/v1/namespaces",
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
        assert status in (201, 409), status

    def create_hco(self, annotations: dict[str, str] | None = None,
                   spec: dict[str, Any] | None = None) -> dict[str, Any]:
        """Create the HCO namespace and the HyperConverged object."""
        self.ensure_namespace(HCO_NS)
        body = {
            "apiVersion": "hco.kubevirt.io/v1",
            "kind": "HyperConverged",
            "metadata": {"name": HCO_NAME, "namespace": HCO_NS,
                         "annotations": dict(annotations or {})},
            "spec": dict(spec or {}),
        }
        status, obj = self.cluster.api(
            "POST", f"/apis/hco.kubevirt.io/v1/namespaces/{HCO_NS}/hyperconvergeds", body=body
        )
        assert status == 201, (status, obj)
        return dict(obj)

    def annotate_hco(self, annotations: dict[str, str | None]) -> None:
        """Merge-patch HCO annotations (None removes a key)."""
        self.patch(HCO_PATH, {"metadata": {"annotations": annotations}})

    def patch(self, path: str, body: Any, *, patch_type: str = "merge",
              token: str | None = None) -> dict[str, Any]:
        """Merge (or json) patch as a different client than the controller."""
        ctype = {"merge": "application/merge-patch+json",
                 "json": "application/json-patch+json"}[patch_type]
        kwargs: dict[str, Any] = {"content_type": ctype}
        if token is not None:
            kwargs["token"] = token
        status, obj = self.cluster.api("PATCH", path, body=body, **kwargs)
        assert status == 200, (status, obj)
        return dict(obj)

    def get(self, path: str) -> dict[str, Any] | None:
        """GET an object; None on 404."""
        status, obj = self.cluster.api("GET", path)
        if status == 404:
            return None
        assert status == 200, (status, obj)
        return dict(obj)

    def wait_for(self, path: str, predicate: Any = None, *, timeout: float = 20.0,
                 what: str | None = None) -> dict[str, Any]:
        """Wait until the object exists (and satisfies ``predicate``)."""

        def probe() -> dict[str, Any] | None:
            obj = self.get(path)
            if obj is None:
                return None
            return obj if predicate is None or predicate(obj) else None

        result: dict[str, Any] = eventually_sync(probe, timeout=timeout, what=what or path)
        return result

    def events(
        self, *, name: str, namespace: str, reason: str | None = None
    ) -> list[dict[str, Any]]:
        """events.k8s.io events regarding ``name`` in ``namespace``."""
        status, body = self.cluster.api(
            "GET", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
        )
        assert status == 200, (status, body)
        out = []
        for ev in body.get("items", []):
            regarding = ev.get("regarding") or {}
            if regarding.get("name") != name:
                continue
            if reason is not None and ev.get("reason") != reason:
                continue
            out.append(ev)
        return out


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    """metadata.labels of an object."""
    return dict((obj.get("metadata") or {}).get("labels") or {})


def annotations_of(obj: dict[str, Any]) -> dict[str, str]:
    """metadata.annotations of an object."""
    return dict((obj.get("metadata") or {}).get("annotations") or {})
