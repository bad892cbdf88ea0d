"""On a live cluster the NodeHealthCheck names the fencing template that exists.

The controller looks the template up by name with its own (generated, least-privilege)
RBAC. ``../shared/crds`` has no FenceAgentsRemediationTemplate CRD, so the test writes
a minimal one (the shared set does not hold the kind).
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.platform import Platform
from tests.support.wait import eventually_sync

GROUP = "fence-agents-remediation.medik8s.io"
NAMESPACE = "openshift-workload-availability"
EARLIER = "fence-agents-remediation-template"
NHC_PATH = "/apis/remediation.medik8s.io/v1alpha1/nodehealthchecks/far"
TEMPLATES = f"/apis/{GROUP}/v1alpha1/namespaces/{NAMESPACE}/fenceagentsremediationtemplates"


def template_crd() -> dict[str, Any]:
    """A minimal FenceAgentsRemediationTemplate CRD (no published one in the shared set)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"fenceagentsremediationtemplates.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"kind": "FenceAgentsRemediationTemplate",
                           "plural": "fenceagentsremediationtemplates",
                           "singular": "fenceagentsremediationtemplate",
                           "listKind": "FenceAgentsRemediationTemplateList"},
                 "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {
                                   "type": "object",
                                   "x-kubernetes-preserve-unknown-fields": True}}}]},
    }


def test_an_existing_earlier_template_is_kept(
    cluster: Any, platform: Platform, controller: Any,
) -> None:
    crd = cluster.workdir / "far-template-crd.json"
    crd.write_text(json.dumps(template_crd()))
    cluster.install_crds(crd)
    platform.install("NodeHealthCheck", "StorageBasedRemediationConfig")
    platform.ensure_namespace(NAMESPACE)
    status, body = cluster.api("POST", TEMPLATES, body={
        "apiVersion": f"{GROUP}/v1alpha1", "kind": "FenceAgentsRemediationTemplate",
        "metadata": {"name": EARLIER, "namespace": NAMESPACE},
        "spec": {"template": {"spec": {"agent": "fence_ipmilan"}}}})
    assert status == 201, body
    platform.create_hco({"platform.kubevirt.io/autopilot": "true",
                         "platform.kubevirt.io/enable-node-remediation": "true"})
    c = controller()
    nhc = platform.wait_for(NHC_PATH, timeout=60, what="NodeHealthCheck far")
    assert nhc["spec"]["remediationTemplate"]["name"] == EARLIER
    assert not c.log_lines("template lookup failed; using its default")
    eventually_sync(lambda: c.metric("virt_platform_compliance_status", kind="NodeHealthCheck",
                                     name="far") == 1, what="far compliant")
