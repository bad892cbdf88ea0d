"""The model of a feature test case and small helpers to describe its objects.

See :mod:`tests.support.features_support` for the cases themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML

from tests.support.platform import CRDS, PROJECT, SHARED

GOLDEN = PROJECT / "golden_state"
EXPORTER_IMAGE = "registry.example.com/kubevirt/kubevirt-metrics-exporter@sha256:" + "ab" * 32

Check = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Obj:
    """One object a feature must own, and the key settings it must carry."""

    api_version: str
    kind: str
    plural: str
    name: str
    namespace: str = ""
    check: Check | None = None

    @property
    def path(self) -> str:
        """REST path of the object."""
        base = f"/apis/{self.api_version}" if "/" in self.api_version else "/api/v1"
        if self.namespace:
            base += f"/namespaces/{self.namespace}"
        return f"{base}/{self.plural}/{self.name}"

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass(frozen=True)
class FeatureCase:
    """A feature switched on in a small cluster, what it must produce, and how to turn it off."""

    feature: str
    objects: tuple[Obj, ...]
    # HCO annotations and spec merge patch that switch it on once the controller runs.
    switch: Mapping[str, str] = field(default_factory=dict)
    switch_spec: Mapping[str, Any] | None = None
    # HCO annotations (besides the autopilot annotation) and spec it is created with.
    annotations: Mapping[str, str] = field(default_factory=dict)
    spec: Mapping[str, Any] = field(default_factory=dict)
    # Merge patches on the HCO that switch it off again.
    off_annotations: Mapping[str, str | None] = field(default_factory=dict)
    off_spec: Mapping[str, Any] | None = None
    # Cluster preparation.
    kinds: tuple[str, ...] = ()  # CRDS table kinds (published schemas when at hand)
    namespaces: tuple[str, ...] = ()
    nodes: tuple[dict[str, Any], ...] = ()
    existing: tuple[tuple[str, dict[str, Any]], ...] = ()  # (collection path, body)
    env: Mapping[str, str] = field(default_factory=dict)
    # After switching off: a merge patch on objects[0] that must survive.
    drift: Mapping[str, Any] = field(default_factory=dict)
    # Resources no always-on asset writes to in this cluster: in kubesim the controller
    # must not write to them at all once the feature is off.
    quiet_plurals: tuple[str, ...] = ()
    autopilot: str = "true"  # the autopilot annotation the HCO is created with
    cluster_check: Callable[[Any], None] | None = None  # a further check once converged

    def __str__(self) -> str:
        return self.feature


# -- small helpers -------------------------------------------------------------------------


def node(name: str, *roles: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Node with role labels (``worker``, ``master``) and extra labels."""
    all_labels = {f"node-role.kubernetes.io/{r}": "" for r in roles}
    all_labels.update(labels or {})
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": all_labels}}


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """``spec`` of an object (empty when absent)."""
    return dict(obj.get("spec") or {})


def contains(obj: Any, part: Any) -> bool:
    """True when every key/value of the merge-patch-like ``part`` is present in ``obj``."""
    if isinstance(part, Mapping):
        return isinstance(obj, Mapping) and all(contains(obj.get(k), v) for k, v in part.items())
    return bool(obj == part)


MC_DRIFT: Mapping[str, Any] = {"spec": {"config": {"ignition": {"version": "3.1.0"}}}}


def mc(name: str, role: str, check: Check | None = None) -> Obj:
    """A MachineConfig of the given role, with the role label checked."""

    def checked(obj: dict[str, Any]) -> None:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        assert labels.get("machineconfiguration.openshift.io/role") == role, labels
        assert spec_of(obj)["config"]["ignition"]["version"].startswith("3."), obj
        if check is not None:
            check(obj)

    return Obj("machineconfiguration.openshift.io/v1", "MachineConfig", "machineconfigs",
               name, check=checked)


def units(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """systemd units of a MachineConfig by name."""
    listed = (spec_of(obj).get("config") or {}).get("systemd", {}).get("units") or []
    return {u["name"]: u for u in listed}


def files(obj: dict[str, Any]) -> list[str]:
    """Paths of the files a MachineConfig writes."""
    listed = (spec_of(obj).get("config") or {}).get("storage", {}).get("files") or []
    return [f["path"] for f in listed]


def shared_crd_present(kind: str) -> bool:
    """Whether the published CRD of ``kind`` is at hand (else a schema-less stand-in is used)."""
    return (SHARED / "crds" / CRDS[kind][4]).is_file()


def in_flight_rule_sets() -> list[str]:
    """Names of every OperationRuleSet the golden state ships."""
    data = YAML(typ="safe").load(
        (GOLDEN / "files" / "in-flight-operations" / "rulesets.yaml").read_text()
    )
    return [rs["name"] for sets in data.values() for rs in sets]
