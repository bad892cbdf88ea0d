"""Which MachineConfigPools a MachineConfig or KubeletConfig reaches, and their nodes.

A pool renders every MachineConfig its ``spec.machineConfigSelector`` matches; a
KubeletConfig reaches the pools its ``spec.machineConfigPoolSelector`` matches; a
pool's nodes are those its ``spec.nodeSelector`` matches. All three are Kubernetes
label selectors (``matchLabels`` and ``matchExpressions``); an absent selector on a
pool selects nothing, an empty one everything.

A node several pools select belongs to one, as the Machine Config Operator decides:
``master`` first, then a custom pool over ``worker`` (a compact cluster's masters
carry the worker role too, and stay in the master pool).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

MASTER: Final = "master"
WORKER: Final = "worker"


@dataclass(frozen=True)
class Pool:
    """One MachineConfigPool and the names of its nodes."""

    name: str
    labels: Mapping[str, str]
    machine_config_selector: dict[str, Any] | None
    nodes: tuple[str, ...]


def selector_matches(selector: dict[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a label selector matches ``labels`` (None matches nothing, {} everything)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(str(key)) != str(value):
            return False
    return all(_expression(expr, labels) for expr in selector.get("matchExpressions") or [])


def _expression(expr: dict[str, Any], labels: Mapping[str, str]) -> bool:
    key = str(expr.get("key", ""))
    values = [str(v) for v in expr.get("values") or []]
    op = str(expr.get("operator", ""))
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False  # an unknown operator selects nothing, as the API server refuses it


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    raw = (obj.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in raw.items()}


def _selector(spec: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = spec.get(key)
    return value if isinstance(value, dict) else None


def _primary(names: list[str]) -> str | None:
    """The one pool a node belongs to among the pools that select it."""
    if MASTER in names:
        return MASTER
    custom = sorted(n for n in names if n != WORKER)
    if custom:
        return custom[0]
    return WORKER if WORKER in names else None


def pools_of(pools: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> list[Pool]:
    """The cluster's pools with their nodes, by name."""
    selectors = {
        str((p.get("metadata") or {}).get("name", "")):
            _selector(p.get("spec") or {}, "nodeSelector") for p in pools
    }
    members: dict[str, list[str]] = {name: [] for name in selectors}
    for node in nodes:
        labels = _labels(node)
        home = _primary([n for n, sel in selectors.items() if selector_matches(sel, labels)])
        if home is not None:
            members[home].append(str((node.get("metadata") or {}).get("name", "")))
    out = [
        Pool(name=str((p.get("metadata") or {}).get("name", "")), labels=_labels(p),
             machine_config_selector=_selector(p.get("spec") or {}, "machineConfigSelector"),
             nodes=tuple(sorted(members[str((p.get("metadata") or {}).get("name", ""))])))
        for p in pools
    ]
    return sorted(out, key=lambda p: p.name)


def pools_reached(kind: str, obj: dict[str, Any], pools: list[Pool]) -> list[Pool]:
    """The pools a MachineConfig (by its labels) or a KubeletConfig (by its selector) reaches."""
    if kind == "KubeletConfig":
        selector = _selector((obj.get("spec") or {}), "machineConfigPoolSelector")
        return [p for p in pools if selector_matches(selector, p.labels)]
    labels = _labels(obj)
    return [p for p in pools if selector_matches(p.machine_config_selector, labels)]
