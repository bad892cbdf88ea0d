"""Structural checks of a ClusterServiceVersion, after the OLM
``operators.coreos.com/v1alpha1`` CRD schema and what the catalog tooling insists on
(``operator-sdk bundle validate`` is not available here).

Each check names the field path. Unknown fields under ``spec`` are errors: the API server
would prune them silently and the bundle would lose what they meant.
"""

from __future__ import annotations

import re
from typing import Any

SPEC_FIELDS = frozenset({
    "annotations", "apiservicedefinitions", "cleanup", "customresourcedefinitions",
    "description", "displayName", "icon", "install", "installModes", "keywords", "labels",
    "links", "maintainers", "maturity", "minKubeVersion", "nativeAPIs", "provider",
    "relatedImages", "replaces", "selector", "skips", "version", "webhookdefinitions",
})
INSTALL_MODE_TYPES = ("OwnNamespace", "SingleNamespace", "MultiNamespace", "AllNamespaces")
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
RULE_FIELDS = frozenset({"apiGroups", "resources", "resourceNames", "verbs", "nonResourceURLs"})


def _str(errors: list[str], value: Any, path: str, *, required: bool = True) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value:
        errors.append(f"{path}: a non-empty string is required")


def _list(errors: list[str], value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        errors.append(f"{path}: a list is required")
        return []
    return value


def _rules(errors: list[str], rules: Any, path: str) -> None:
    for i, rule in enumerate(_list(errors, rules, path)):
        where = f"{path}[{i}]"
        if not isinstance(rule, dict) or set(rule) - RULE_FIELDS:
            errors.append(f"{where}: a PolicyRule with only {sorted(RULE_FIELDS)}")
            continue
        if not rule.get("verbs"):
            errors.append(f"{where}.verbs: required")
        if "resources" in rule and "apiGroups" not in rule:
            errors.append(f"{where}.apiGroups: required with resources")


def _permissions(errors: list[str], value: Any, path: str) -> None:
    for i, entry in enumerate(_list(errors, value, path)):
        if not isinstance(entry, dict):
            errors.append(f"{path}[{i}]: a mapping is required")
            continue
        _str(errors, entry.get("serviceAccountName"), f"{path}[{i}].serviceAccountName")
        _rules(errors, entry.get("rules"), f"{path}[{i}].rules")


def _deployments(errors: list[str], value: Any, path: str) -> None:
    deployments = _list(errors, value, path)
    if not deployments:
        errors.append(f"{path}: at least one deployment")
    for i, dep in enumerate(deployments):
        where = f"{path}[{i}]"
        if not isinstance(dep, dict):
            errors.append(f"{where}: a mapping is required")
            continue
        name = dep.get("name")
        if not isinstance(name, str) or not DNS_SUBDOMAIN.match(name):
            errors.append(f"{where}.name: a DNS subdomain is required")
        spec = dep.get("spec")
        if not isinstance(spec, dict):
            errors.append(f"{where}.spec: a DeploymentSpec is required")
            continue
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            errors.append(f"{where}.spec.selector: must match the pod template's labels")
        pod = (spec.get("template") or {}).get("spec") or {}
        for c, container in enumerate(pod.get("containers") or []):
            for e, env in enumerate(container.get("env") or []):
                if not ENV_NAME.match(str(env.get("name", ""))):
                    errors.append(f"{where}.spec.template.spec.containers[{c}].env[{e}].name: "
                                  f"{env.get('name')!r} is not an upper-case variable name")


def _install(errors: list[str], install: Any) -> None:
    if not isinstance(install, dict):
        errors.append("spec.install: required")
        return
    if install.get("strategy") != "deployment":
        errors.append("spec.install.strategy: must be 'deployment'")
    spec = install.get("spec")
    if not isinstance(spec, dict):
        errors.append("spec.install.spec: required")
        return
    _deployments(errors, spec.get("deployments"), "spec.install.spec.deployments")
    for key in ("clusterPermissions", "permissions"):
        if key in spec:
            _permissions(errors, spec[key], f"spec.install.spec.{key}")
    accounts = {
        (((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "serviceAccountName") for d in spec.get("deployments") or [] if isinstance(d, dict)
    }
    for key in ("clusterPermissions", "permissions"):
        for entry in spec.get(key) or []:
            if isinstance(entry, dict) and entry.get("serviceAccountName") not in accounts:
                errors.append(f"spec.install.spec.{key}: service account "
                              f"{entry.get('serviceAccountName')!r} runs no deployment")


def _install_modes(errors: list[str], value: Any) -> None:
    modes = _list(errors, value, "spec.installModes")
    types = [m.get("type") for m in modes if isinstance(m, dict)]
    if sorted(types) != sorted(INSTALL_MODE_TYPES):
        errors.append(f"spec.installModes: each of {INSTALL_MODE_TYPES} exactly once")
    for i, mode in enumerate(modes):
        if not isinstance(mode, dict) or not isinstance(mode.get("supported"), bool):
            errors.append(f"spec.installModes[{i}].supported: a boolean is required")
    if not any(isinstance(m, dict) and m.get("supported") is True for m in modes):
        errors.append("spec.installModes: at least one mode must be supported")


def _crds(errors: list[str], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or set(value) - {"owned", "required"}:
        errors.append("spec.customresourcedefinitions: only owned and required")
        return
    for section in ("owned", "required"):
        for i, crd in enumerate(value.get(section) or []):
            where = f"spec.customresourcedefinitions.{section}[{i}]"
            for key in ("name", "version", "kind"):
                _str(errors, crd.get(key), f"{where}.{key}")
            name = str(crd.get("name", ""))
            if name.count(".") < 2 or not DNS_SUBDOMAIN.match(name):
                errors.append(f"{where}.name: must be <plural>.<group>")


def csv_problems(csv: dict[str, Any], *, package: str) -> list[str]:
    """Everything wrong with ``csv`` (empty when it is a valid ClusterServiceVersion)."""
    errors: list[str] = []
    if csv.get("apiVersion") != "operators.coreos.com/v1alpha1":
        errors.append("apiVersion: must be operators.coreos.com/v1alpha1")
    if csv.get("kind") != "ClusterServiceVersion":
        errors.append("kind: must be ClusterServiceVersion")
    meta = csv.get("metadata") or {}
    spec = csv.get("spec") or {}
    version = str(spec.get("version", ""))
    if not SEMVER.match(version):
        errors.append(f"spec.version: {version!r} is not semantic versioning")
    if meta.get("name") != f"{package}.v{version}":
        errors.append(f"metadata.name: must be {package}.v<spec.version>")
    for key, value in (meta.get("annotations") or {}).items():
        if not isinstance(value, str):
            errors.append(f"metadata.annotations[{key}]: annotation values are strings")
        if key.startswith("features.operators.openshift.io/") and value not in ("true", "false"):
            errors.append(f"metadata.annotations[{key}]: must be \"true\" or \"false\"")
    namespace = (meta.get("annotations") or {}).get("operatorframework.io/suggested-namespace")
    if namespace is not None and not DNS_LABEL.match(str(namespace)):
        errors.append("operatorframework.io/suggested-namespace: not a namespace name")
    unknown = sorted(set(spec) - SPEC_FIELDS)
    if unknown:
        errors.append(f"spec: unknown field(s) {unknown} would be pruned")
    _str(errors, spec.get("displayName"), "spec.displayName")
    _str(errors, spec.get("description"), "spec.description")
    min_kube = spec.get("minKubeVersion")
    if min_kube is not None and not SEMVER.match(str(min_kube)):
        errors.append(f"spec.minKubeVersion: {min_kube!r} is not semantic versioning")
    _install(errors, spec.get("install"))
    _install_modes(errors, spec.get("installModes"))
    _crds(errors, spec.get("customresourcedefinitions"))
    for i, image in enumerate(spec.get("relatedImages") or []):
        _str(errors, image.get("name"), f"spec.relatedImages[{i}].name")
        _str(errors, image.get("image"), f"spec.relatedImages[{i}].image")
    for i, link in enumerate(spec.get("links") or []):
        _str(errors, link.get("name"), f"spec.links[{i}].name")
        _str(errors, link.get("url"), f"spec.links[{i}].url")
    provider = spec.get("provider")
    if provider is not None:
        _str(errors, (provider or {}).get("name"), "spec.provider.name")
    return errors
