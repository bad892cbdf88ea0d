"""The resources the controller and its commands read by name, defined once.

Their group, version and plural never vary between clusters (unlike the kinds
the golden state renders, which discovery resolves), so reading them needs no
discovery round trip. The OpenShift config kinds are optional: a cluster without
them is plain Kubernetes, and readers treat them as absent.
"""

from __future__ import annotations

from autopilot.kube.resources import ResourceInfo

HCO = ResourceInfo("hco.kubevirt.io", "v1", "HyperConverged", "hyperconvergeds", True)
HCO_NAME = "kubevirt-hyperconverged"
NODES = ResourceInfo("", "v1", "Node", "nodes", False)
NAMESPACES = ResourceInfo("", "v1", "Namespace", "namespaces", False)
CRDS = ResourceInfo(
    "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False
)
INFRASTRUCTURES = ResourceInfo(
    "config.openshift.io", "v1", "Infrastructure", "infrastructures", False
)
SCHEDULERS = ResourceInfo("config.openshift.io", "v1", "Scheduler", "schedulers", False)
# The OpenShift config kinds the render context reads, and the name of their one object.
CONFIG_KINDS = (INFRASTRUCTURES, SCHEDULERS)
CONFIG_NAME = "cluster"
