"""The controller's ClusterServiceVersion (``operators.coreos.com/v1alpha1``).

Built, never hand-edited: the install strategy is ``manifests/deployment.yaml``
verbatim (so its environment, including variable names, is exactly the
Deployment's), ``clusterPermissions`` the generated ClusterRole's rules and
``permissions`` the Lease Role's plus those of the generated per-namespace Roles
(``manifests/rbac/namespaced.yaml``). OLM grants ``permissions`` in every namespace of
the OperatorGroup, so the install targets exactly the namespaces the golden state writes
to (MultiNamespace; never AllNamespaces, which would turn them cluster-wide). The
controller holds leases only in its own namespace, so a ClusterRole granting what the
Lease Role grants is refused. Related images are the Deployment's container images and every
``RELATED_IMAGE_*`` variable it sets, as :mod:`autopilot.olm.options` sets them.

Nothing names the install namespace: OLM creates the Deployment in the OperatorGroup's
namespace, and the controller reads it from ``POD_NAMESPACE``.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

from autopilot.olm.options import CsvOptions, created_at, with_images
from autopilot.olm.sources import BundleError, Sources

CSV_API_VERSION = "operators.coreos.com/v1alpha1"
INSTALL_MODES = ("OwnNamespace", "SingleNamespace", "MultiNamespace", "AllNamespaces")
BEGIN = "<!-- olm-description:begin"
END = "<!-- olm-description:end -->"
RELATED_IMAGE_PREFIX = "RELATED_IMAGE_"
# Markdown links and images that point into the repository: [text](target).
_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")


def csv_name(src: Sources, version: str) -> str:
    """``<package>.v<version>``, the name OLM expects."""
    return f"{src.base['package']}.v{version}"


def readme_description(readme: str, repository: str) -> str:
    """The README text between the olm-description markers, links made absolute."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise BundleError(f"README.md: markers {BEGIN} ... {END} not found")
    body = readme[readme.index("-->", start) + 3 : end].strip()

    def absolute(match: re.Match[str]) -> str:
        target = match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            return match.group(0)
        if target.startswith("#"):
            target = f"{repository}{target}"
        else:
            target = f"{repository}/blob/main/{target.lstrip('./')}"
        return f"{match.group(1)}{target}{match.group(3)}"

    return _LINK.sub(absolute, body) + "\n"


def _role_resources(role: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (group, resource)
        for rule in role.get("rules") or []
        for group in rule.get("apiGroups") or []
        for resource in rule.get("resources") or []
    }


def cluster_rules(src: Sources) -> list[dict[str, Any]]:
    """The ClusterRole's rules; refused when they grant what the Lease Role grants."""
    overlap = _role_resources(src.cluster_role) & _role_resources(src.lease_role)
    if overlap:
        names = ", ".join(f"{r}.{g}" if g else r for g, r in sorted(overlap))
        raise BundleError(f"the ClusterRole grants {names} cluster-wide: leader election "
                          "belongs to the namespaced Lease Role only")
    return [copy.deepcopy(rule) for rule in src.cluster_role.get("rules") or []]


def namespaced_rules(src: Sources) -> list[dict[str, Any]]:
    """The Lease Role's rules, then every namespaced Role's, each rule once."""
    out: list[dict[str, Any]] = []
    for role in (src.lease_role, *src.namespaced_roles):
        for rule in role.get("rules") or []:
            if rule not in out:
                out.append(copy.deepcopy(rule))
    return out


def _containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def related_images(deployment: dict[str, Any]) -> list[dict[str, str]]:
    """Every container image, and every image a ``RELATED_IMAGE_*`` variable names."""
    images: dict[str, str] = {}
    owner = str((deployment.get("metadata") or {}).get("name", ""))
    containers = _containers(deployment)
    for container in containers:
        name = owner if len(containers) == 1 else f"{owner}-{container['name']}"
        images.setdefault(str(container["image"]), name)
        for env in container.get("env") or []:
            name = str(env.get("name", ""))
            if name.startswith(RELATED_IMAGE_PREFIX) and env.get("value"):
                key = name[len(RELATED_IMAGE_PREFIX):].lower().replace("_", "-")
                images.setdefault(str(env["value"]), key)
    return [{"name": name, "image": image} for image, name in images.items()]


def _service_account(deployment: dict[str, Any]) -> str:
    template = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    account = template.get("serviceAccountName")
    if not isinstance(account, str) or not account:
        raise BundleError("manifests/deployment.yaml: spec.template.spec.serviceAccountName "
                          "is required (the CSV's permissions are granted to it)")
    return account


BASE_KEYS = ("package", "channel", "displayName", "provider", "maintainers", "maturity",
             "minKubeVersion", "installModes", "requiredCRDs", "almExamples", "createdAt")


def _annotations(src: Sources, *, image: str, options: CsvOptions) -> dict[str, str]:
    base = src.base
    annotations = {str(k): str(v) for k, v in (base.get("annotations") or {}).items()}
    annotations["containerImage"] = image
    annotations["createdAt"] = created_at(options.created_at, default=base["createdAt"])
    # Examples of the APIs the CSV owns; it owns none (it acts on the HyperConverged).
    annotations["alm-examples"] = json.dumps(base["almExamples"] or [])
    annotations["repository"] = src.repository
    annotations["description"] = str(base["displayName"]) + ": keeps an OpenShift " \
        "Virtualization cluster in its Golden State"
    return annotations


def icon(src: Sources) -> list[dict[str, str]]:
    """``spec.icon``: the SVG of ``manifests/olm/icon.svg``, base64-encoded."""
    if "<svg" not in src.icon_svg:
        raise BundleError("manifests/olm/icon.svg: not an SVG image")
    data = base64.b64encode(src.icon_svg.encode("utf-8")).decode("ascii")
    return [{"base64data": data, "mediatype": "image/svg+xml"}]


def build_csv(src: Sources, options: CsvOptions | None = None) -> dict[str, Any]:
    """The ClusterServiceVersion for ``src`` with the release's ``options``."""
    options = options or CsvOptions()
    base = src.base
    missing = [k for k in BASE_KEYS if k not in base]
    if missing:
        raise BundleError(f"manifests/olm/csv-base.yaml: missing {', '.join(missing)}")
    deployment = with_images(src.deployment, options)
    account = _service_account(deployment)
    containers = _containers(deployment)
    version = options.version or src.version
    modes = base.get("installModes") or {}
    if set(modes) != set(INSTALL_MODES):
        raise BundleError(f"manifests/olm/csv-base.yaml: installModes must list "
                          f"{', '.join(INSTALL_MODES)}")
    if modes.get("AllNamespaces"):
        raise BundleError("manifests/olm/csv-base.yaml: AllNamespaces would have OLM grant the "
                          "namespaced permissions cluster-wide; support MultiNamespace instead")
    meta = deployment.get("metadata") or {}
    annotations = _annotations(src, image=str(containers[-1]["image"]), options=options)
    return {
        "apiVersion": CSV_API_VERSION,
        "kind": "ClusterServiceVersion",
        "metadata": {"name": csv_name(src, version), "annotations": annotations},
        "spec": {
            "displayName": base["displayName"],
            "description": readme_description(src.readme, src.repository),
            "version": version,
            "maturity": base["maturity"],
            "minKubeVersion": base["minKubeVersion"],
            "provider": {**base["provider"], "url": src.repository},
            "maintainers": copy.deepcopy(base["maintainers"]),
            "icon": icon(src),
            "links": [
                {"name": "Source", "url": src.repository},
                {"name": "Runbooks", "url": f"{src.repository}/tree/main/runbooks"},
            ],
            "keywords": list(base.get("keywords") or []),
            "installModes": [{"type": m, "supported": bool(modes[m])} for m in INSTALL_MODES],
            "customresourcedefinitions": {"required": copy.deepcopy(base["requiredCRDs"])},
            "relatedImages": related_images(deployment),
            "install": {
                "strategy": "deployment",
                "spec": {
                    "deployments": [{
                        "name": meta["name"],
                        "label": dict(meta.get("labels") or {}),
                        "spec": copy.deepcopy(deployment["spec"]),
                    }],
                    "clusterPermissions": [
                        {"serviceAccountName": account, "rules": cluster_rules(src)}],
                    "permissions": [{
                        "serviceAccountName": account,
                        "rules": namespaced_rules(src),
                    }],
                },
            },
        },
    }
