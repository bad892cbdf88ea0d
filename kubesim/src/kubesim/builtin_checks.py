"""Semantic validation of built-in kinds: the checks a real server makes in Go code.

Only the kinds and fields the golden state and the tests write: Services, DaemonSets,
RBAC roles and bindings, ConfigMaps and Namespaces. Each cause carries the field,
reason and message the real v1.36 server gives (recorded against one), in its order.
Other built-in kinds get no semantic validation (a known difference).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from kubesim.selectors import matches_label_selector
from kubesim.validation import (
    _LABEL,
    _LABEL_MSG,
    _LABEL_VALUE_MSG,
    _QUALIFIED,
    _key_problem,
)

Obj = dict[str, Any]
Cause = dict[str, str]
RBAC_GROUP = "rbac.authorization.k8s.io"
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')")
_STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")
_IMMUTABLE_SET = "field is immutable when `immutable` is set"


class _Struct(dict[str, Any]):
    """A Go struct in a message: fields in declaration order (maps print sorted)."""


def _render(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=type(value) is dict)


def _required(field: str, detail: str = "") -> Cause:
    message = f"Required value: {detail}" if detail else "Required value"
    return {"reason": "FieldValueRequired", "message": message, "field": field}


def _invalid(field: str, value: Any, detail: str) -> Cause:
    return {"reason": "FieldValueInvalid", "message": f"Invalid value: {_render(value)}: {detail}",
            "field": field}


def _unsupported(field: str, value: Any, supported: list[str]) -> Cause:
    choices = ", ".join(f'"{s}"' for s in supported)
    return {"reason": "FieldValueNotSupported",
            "message": f"Unsupported value: {_render(value)}: supported values: {choices}",
            "field": field}


def _duplicate(field: str, value: Any) -> Cause:
    return {"reason": "FieldValueDuplicate", "message": f"Duplicate value: {_render(value)}",
            "field": field}


def _forbidden(field: str, detail: str) -> Cause:
    return {"reason": "FieldValueForbidden", "message": f"Forbidden: {detail}", "field": field}


def _port_range(field: str, port: Any) -> list[Cause]:
    if isinstance(port, int) and 1 <= port <= 65535:
        return []
    return [_invalid(field, port, "must be between 1 and 65535, inclusive")]


def _port_name(field: str, name: str) -> list[Cause]:
    """An IANA service name, as a targetPort or containerPort name must be."""
    if len(name) > 15:
        return [_invalid(field, name, "must be no more than 15 characters")]
    if not re.fullmatch(r"[-a-z0-9]+", name):
        return [_invalid(field, name, "must contain only alpha-numeric characters (a-z, 0-9), "
                                      "and hyphens (-)")]
    if not re.search(r"[a-z]", name):
        return [_invalid(field, name, "must contain at least one letter (a-z)")]
    if "--" in name:
        return [_invalid(field, name, "must not contain consecutive hyphens")]
    if name.startswith("-") or name.endswith("-"):
        return [_invalid(field, name, "must not begin or end with a hyphen")]
    return []


def _labels_causes(field: str, labels: Any) -> list[Cause]:
    out: list[Cause] = []
    for key, value in (labels or {}).items() if isinstance(labels, dict) else []:
        problem = _key_problem(str(key))
        if problem:
            out.append(_invalid(field, key, problem))
        text = str(value)
        if len(text) > 63:
            out.append(_invalid(field, text, "must be no more than 63 characters"))
        elif text and not _QUALIFIED.fullmatch(text):
            out.append(_invalid(field, text, _LABEL_VALUE_MSG))
    return out


# -- Service ----------------------------------------------------------------------------------


def _service_port(path: str, port: Obj, many: bool, stype: str, names: set[str]
                  ) -> list[Cause]:
    out: list[Cause] = []
    name = str(port.get("name") or "")
    if many and not name:
        out.append(_required(f"{path}.name"))
    elif name:
        if len(name) > 63 or not _LABEL.fullmatch(name):
            out.append(_invalid(f"{path}.name", name, _LABEL_MSG))
        if name in names:
            out.append(_duplicate(f"{path}.name", name))
        names.add(name)
    out += _port_range(f"{path}.port", port.get("port"))
    protocol = port.get("protocol") or "TCP"
    if protocol not in ("SCTP", "TCP", "UDP"):
        out.append(_unsupported(f"{path}.protocol", protocol, ["SCTP", "TCP", "UDP"]))
    target = port.get("targetPort")
    if isinstance(target, str):
        out += _port_name(f"{path}.targetPort", target)
    elif target is not None:
        out += _port_range(f"{path}.targetPort", target)
    node_port = port.get("nodePort")
    if node_port:
        if stype == "ClusterIP":
            out.append(_forbidden(f"{path}.nodePort", "may not be used when `type` is "
                                                      "'ClusterIP'"))
        elif not 30000 <= int(node_port) <= 32767:
            out.append(_invalid(f"{path}.nodePort", node_port, "provided port is not in the "
                                "valid range. The range of valid ports is 30000-32767"))
    return out


def _service(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    out: list[Cause] = []
    if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
        out.append(_required("spec.ports"))
    names: set[str] = set()
    keys: set[tuple[Any, str]] = set()
    for i, port in enumerate(ports):
        path = f"spec.ports[{i}]"
        out += _service_port(path, port, len(ports) > 1, stype, names)
        key = (port.get("port"), port.get("protocol") or "TCP")
        if key in keys:
            out.append(_duplicate(path, _Struct(Name="", Protocol=key[1], AppProtocol=None,
                                                Port=key[0], TargetPort=0, NodePort=0)))
        keys.add(key)
    out += _labels_causes("spec.selector", spec.get("selector"))
    if stype not in ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"):
        out.append(_unsupported("spec.type", stype,
                                ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]))
    return out


# -- DaemonSet --------------------------------------------------------------------------------


def _containers(path: str, containers: list[Any]) -> list[Cause]:
    if not containers:
        return [_required(path)]
    out: list[Cause] = []
    seen: set[str] = set()
    for i, c in enumerate(x for x in containers if isinstance(x, dict)):
        where = f"{path}[{i}]"
        name = str(c.get("name") or "")
        if not name:
            out.append(_required(f"{where}.name"))
        elif name in seen:
            out.append(_duplicate(f"{where}.name", name))
        elif len(name) > 63 or not _LABEL.fullmatch(name):
            out.append(_invalid(f"{where}.name", name, _LABEL_MSG))
        seen.add(name)
        if not c.get("image"):
            out.append(_required(f"{where}.image"))
        for j, port in enumerate(p for p in c.get("ports") or [] if isinstance(p, dict)):
            field = f"{where}.ports[{j}].containerPort"
            if not port.get("containerPort"):
                out.append(_required(field))
            else:
                out += _port_range(field, port.get("containerPort"))
    return out


def _daemonset(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels")
    out: list[Cause] = []
    if isinstance(selector, dict) and not (selector.get("matchLabels")
                                           or selector.get("matchExpressions")):
        out.append(_invalid("spec.selector", {}, "empty selector is invalid for daemonset"))
    elif not isinstance(selector, dict) or not matches_label_selector(selector, labels or {}):
        out.append(_invalid("spec.template.metadata.labels", labels,
                            "`selector` does not match template `labels`"))
    pod = template.get("spec") or {}
    out += _containers("spec.template.spec.containers", pod.get("containers") or [])
    restart = pod.get("restartPolicy") or "Always"
    if restart != "Always":
        out.append(_unsupported("spec.template.spec.restartPolicy", restart, ["Always"]))
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") not in ("RollingUpdate", "OnDelete"):
        out.append(_unsupported("spec.updateStrategy", _Struct(Type=strategy.get("type"),
                                                               RollingUpdate=None),
                                ["RollingUpdate", "OnDelete"]))
    if old is not None:
        before = (old.get("spec") or {}).get("selector")
        if before != selector:
            shown = _Struct((k, selector[k]) for k in ("matchLabels", "matchExpressions")
                            if isinstance(selector, dict) and k in selector)
            out.append(_invalid("spec.selector", shown, "field is immutable"))
    return out


# -- RBAC -------------------------------------------------------------------------------------


def _rules(obj: Obj, *, namespaced: bool) -> list[Cause]:
    out: list[Cause] = []
    for i, rule in enumerate(r for r in obj.get("rules") or [] if isinstance(r, dict)):
        path = f"rules[{i}]"
        if not rule.get("verbs"):
            out.append(_required(f"{path}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            if namespaced:
                out.append(_invalid(f"{path}.nonResourceURLs", urls,
                                    "namespaced rules cannot apply to non-resource URLs"))
            elif rule.get("apiGroups") or rule.get("resources"):
                out.append(_invalid(f"{path}.nonResourceURLs", urls, "rules cannot apply to "
                                    "both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            out.append(_required(f"{path}.apiGroups",
                                 "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            out.append(_required(f"{path}.resources",
                                 "resource rules must supply at least one resource"))
    return out


def _subjects(obj: Obj, *, cluster: bool) -> list[Cause]:
    out: list[Cause] = []
    for i, s in enumerate(x for x in obj.get("subjects") or [] if isinstance(x, dict)):
        path = f"subjects[{i}]"
        if not s.get("name"):
            out.append(_required(f"{path}.name"))
        kind, group = s.get("kind"), s.get("apiGroup") or ""
        if kind == "ServiceAccount":
            if group:
                out.append(_unsupported(f"{path}.apiGroup", group, [""]))
            if cluster and not s.get("namespace"):
                out.append(_required(f"{path}.namespace"))
        elif kind in ("User", "Group"):
            if group != RBAC_GROUP:
                out.append(_unsupported(f"{path}.apiGroup", group, [RBAC_GROUP]))
        else:
            out.append(_unsupported(f"{path}.kind", kind or "",
                                    ["ServiceAccount", "User", "Group"]))
    return out


def _binding(obj: Obj, old: Obj | None, *, cluster: bool) -> list[Cause]:
    ref = obj.get("roleRef") or {}
    out: list[Cause] = []
    if ref.get("apiGroup") != RBAC_GROUP:
        out.append(_unsupported("roleRef.apiGroup", ref.get("apiGroup") or "", [RBAC_GROUP]))
    kinds = ["ClusterRole"] if cluster else ["Role", "ClusterRole"]
    if ref.get("kind") not in kinds:
        out.append(_unsupported("roleRef.kind", ref.get("kind") or "", kinds))
    if not ref.get("name"):
        out.append(_required("roleRef.name"))
    out += _subjects(obj, cluster=cluster)
    if old is not None and (old.get("roleRef") or {}) != ref:
        out.append(_invalid("roleRef", _Struct(APIGroup=ref.get("apiGroup", ""),
                                               Kind=ref.get("kind", ""), Name=ref.get("name", "")),
                            "cannot change roleRef"))
    return out


# -- ConfigMap and Namespace ------------------------------------------------------------------


def _config_key(field: str, key: str) -> list[Cause]:
    if len(key) > 253:
        return [_invalid(field, key, "must be no more than 253 characters")]
    if not _CONFIG_KEY.fullmatch(key):
        return [_invalid(field, key, _CONFIG_KEY_MSG)]
    if key in (".", ".."):
        return [_invalid(field, key, f"must not be '{key}'")]
    if key.startswith(".."):
        return [_invalid(field, key, "must not start with '..'")]
    return []


def _configmap(obj: Obj, old: Obj | None) -> list[Cause]:
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    out: list[Cause] = []
    for key in data:
        out += _config_key(f"data[{key}]", str(key))
        if key in binary:
            out.append(_invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
    for key in binary:
        out += _config_key(f"binaryData[{key}]", str(key))
    if old is not None and old.get("immutable"):
        if obj.get("immutable") is not True:
            out.append(_forbidden("immutable", _IMMUTABLE_SET))
        for field in ("data", "binaryData"):
            if (old.get(field) or {}) != (obj.get(field) or {}):
                out.append(_forbidden(field, _IMMUTABLE_SET))
    return out


def _namespace(obj: Obj, old: Obj | None) -> list[Cause]:
    out: list[Cause] = []
    for name in (obj.get("spec") or {}).get("finalizers") or []:
        problem = _key_problem(str(name))
        if problem:
            out.append(_invalid("spec.finalizers", name, problem))
        if name not in _STANDARD_FINALIZERS and "/" not in str(name):
            out.append(_invalid("spec.finalizers", name, "name is neither a standard finalizer "
                                                         "name nor is it fully qualified"))
    return out


_CHECKS: dict[tuple[str, str], Callable[[Obj, Obj | None], list[Cause]]] = {
    ("", "services"): _service,
    ("apps", "daemonsets"): _daemonset,
    (RBAC_GROUP, "clusterroles"): lambda o, _old: _rules(o, namespaced=False),
    (RBAC_GROUP, "roles"): lambda o, _old: _rules(o, namespaced=True),
    (RBAC_GROUP, "clusterrolebindings"): lambda o, old: _binding(o, old, cluster=True),
    (RBAC_GROUP, "rolebindings"): lambda o, old: _binding(o, old, cluster=False),
    ("", "configmaps"): _configmap,
    ("", "namespaces"): _namespace,
}


def builtin_causes(key: tuple[str, str], obj: Obj, old: Obj | None) -> list[Cause]:
    """Why the server refuses ``obj`` (``old``: the stored object on an update)."""
    check = _CHECKS.get(key)
    return check(obj, old) if check is not None else []
