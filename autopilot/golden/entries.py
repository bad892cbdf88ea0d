"""Catalogue entries: conditions, assets and features, and their strict parsers.

What one entry of a ``catalog/*.yaml`` file may say (golden-state.md §1) and how it
is checked: every problem is a :class:`~autopilot.golden.yamlfile.GoldenStateError`
whose one line names the file, line and entry. How the files combine into a
golden state is :mod:`autopilot.golden.catalog`'s business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from autopilot.golden.yamlfile import Reporter, line_of

INSTALL_MODES = ("always", "opt-in")
MATURITIES = ("GA", "TP", "DP")
HARDWARE_DETECTORS = (
    "pciDevicesPresent",
    "numaNodesPresent",
    "vfioCapable",
    "usbDevicesPresent",
    "gpuPresent",
)
TOPOLOGY_FLAGS = ("hasSchedulableMasters", "isCompact", "isHCP", "isAWS")
# condition type -> (required fields, optional fields)
CONDITION_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "annotation": (frozenset({"key"}), frozenset({"value"})),
    "feature-gate": (frozenset({"value"}), frozenset()),
    "hardware": (frozenset({"detector"}), frozenset()),
    "topology": (frozenset({"field"}), frozenset({"value"})),
    "hco-field-unconfigured": (frozenset({"path"}), frozenset()),
    "image": (frozenset({"key"}), frozenset()),
}
DEFAULT_ORDER = 100

_ASSET_KEYS = frozenset(
    {"name", "group", "path", "install", "order", "conditions", "gate_crd", "params"}
)
_FEATURE_KEYS = frozenset(
    {"name", "title", "description", "maturity", "switch", "assets", "groups", "requires",
     "recommended"}
)


@dataclass(frozen=True, slots=True)
class Condition:
    """One AND-ed activation condition of an asset (see golden-state.md §1)."""

    type: str
    key: str = ""
    value: str = ""
    detector: str = ""
    field: str = ""
    path: str = ""

    def describe(self) -> str:
        """Short human form, e.g. ``annotation platform.kubevirt.io/enable-x == true``."""
        if self.type == "annotation":
            return f"annotation {self.key}" + (f" == {self.value}" if self.value else " present")
        if self.type == "feature-gate":
            return f"feature-gate {self.value}"
        if self.type == "hardware":
            return f"hardware {self.detector}"
        if self.type == "topology":
            return f"topology {self.field} == {self.value or 'true'}"
        if self.type == "hco-field-unconfigured":
            return f"hco-field-unconfigured {self.path}"
        return f"image {self.key}"


@dataclass(frozen=True, slots=True)
class Asset:
    """One managed template; renders zero or more Kubernetes objects."""

    name: str
    path: str
    group: str = ""
    install: str = "always"
    order: int = DEFAULT_ORDER
    conditions: tuple[Condition, ...] = ()
    gate_crd: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    feature: str = ""
    source_file: str = field(default="", compare=False)
    source_line: int = field(default=0, compare=False)

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def source(self) -> str:
        """``file:line`` of the catalogue entry (for messages)."""
        return f"{self.source_file}:{self.source_line}" if self.source_line else self.source_file


@dataclass(frozen=True, slots=True)
class Feature:
    """A named, documented bundle of assets (one README table row)."""

    name: str
    title: str
    description: str = ""
    maturity: str = "GA"
    switch: str = "always"
    assets: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    recommended: tuple[str, ...] = ()


def _scalar_str(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _str_list(
    rep: Reporter, node: Mapping[str, Any], key: str, what: str, line: int | None
) -> tuple[str, ...]:
    value = node.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise rep.error(f"{what}: '{key}' must be a list of names", line=line_of(node, key) or line)
    return tuple(value)


def _parse_condition(rep: Reporter, raw: Any, what: str, line: int | None) -> Condition:
    if not isinstance(raw, Mapping):
        raise rep.error(f"{what}: a condition must be a mapping", line=line)
    ctype = raw.get("type")
    if ctype not in CONDITION_FIELDS:
        known = ", ".join(CONDITION_FIELDS)
        raise rep.error(f"{what}: unknown condition type {ctype!r} (known: {known})", line=line)
    required, optional = CONDITION_FIELDS[ctype]
    fields: dict[str, str] = {}
    for key, value in raw.items():
        if key == "type":
            continue
        if key not in required | optional:
            raise rep.error(f"{what}: condition {ctype!r} has unknown field {key!r}", line=line)
        text = _scalar_str(value)
        if text is None:
            raise rep.error(
                f"{what}: condition {ctype!r} field {key!r} must be a string", line=line
            )
        fields[str(key)] = text
    missing = sorted(f for f in required if not fields.get(f))
    if missing:
        raise rep.error(f"{what}: condition {ctype!r} needs {', '.join(missing)}", line=line)
    cond = Condition(type=ctype, **fields)
    if ctype == "hardware" and cond.detector not in HARDWARE_DETECTORS:
        raise rep.error(
            f"{what}: unknown hardware detector {cond.detector!r} "
            f"(known: {', '.join(HARDWARE_DETECTORS)})",
            line=line,
        )
    if ctype == "topology":
        if cond.field not in TOPOLOGY_FLAGS:
            raise rep.error(
                f"{what}: unknown topology field {cond.field!r} "
                f"(known: {', '.join(TOPOLOGY_FLAGS)})",
                line=line,
            )
        if cond.value.lower() not in ("", "true", "false"):
            raise rep.error(f"{what}: topology value must be \"true\" or \"false\"", line=line)
    return cond


def _named_entry(
    rep: Reporter, raw: Any, line: int | None, *, entry: str, keys: frozenset[str]
) -> tuple[Mapping[str, Any], str, str]:
    """A catalog entry's mapping, its name, and how errors name it; one-line errors for a
    non-mapping, a missing name or a key the entry does not know."""
    article = "an" if entry[0] in "aeiou" else "a"
    if not isinstance(raw, Mapping):
        raise rep.error(f"{article} {entry} entry must be a mapping", line=line)
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise rep.error(f"{entry} without a 'name'", line=line)
    what = f"{entry} {name!r}"
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise rep.error(f"{what}: unknown key(s) {', '.join(map(str, unknown))}", line=line)
    return raw, name, what


def parse_asset(rep: Reporter, raw: Any, line: int | None) -> Asset:
    """Parse one ``assets`` entry of a catalog file (errors name the file and line)."""
    raw, name, what = _named_entry(rep, raw, line, entry="asset", keys=_ASSET_KEYS)
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        raise rep.error(f"{what}: missing 'path'", line=line)
    install = raw.get("install", "always")
    if install not in INSTALL_MODES:
        raise rep.error(
            f"{what}: install must be one of {', '.join(INSTALL_MODES)}, not {install!r}",
            line=line_of(raw, "install") or line,
        )
    order = raw.get("order", DEFAULT_ORDER)
    if isinstance(order, bool) or not isinstance(order, int):
        raise rep.error(f"{what}: order must be an integer", line=line_of(raw, "order") or line)
    group = raw.get("group") or ""
    gate_crd = raw.get("gate_crd") or ""
    if not isinstance(group, str) or not isinstance(gate_crd, str):
        raise rep.error(f"{what}: group and gate_crd must be strings", line=line)
    conditions_raw = raw.get("conditions") or []
    if not isinstance(conditions_raw, list):
        raise rep.error(f"{what}: conditions must be a list", line=line)
    conditions = tuple(
        _parse_condition(rep, c, what, line_of(conditions_raw, i) or line)
        for i, c in enumerate(conditions_raw)
    )
    params_raw = raw.get("params") or {}
    if not isinstance(params_raw, Mapping):
        raise rep.error(f"{what}: params must be a mapping", line=line)
    params: dict[str, str] = {}
    for key, value in params_raw.items():
        text = _scalar_str(value)
        if text is None:
            raise rep.error(f"{what}: param {key!r} must be a string", line=line)
        params[str(key)] = text
    return Asset(
        name=name,
        path=path,
        group=group,
        install=install,
        order=order,
        conditions=conditions,
        gate_crd=gate_crd,
        params=params,
        source_file=str(rep.path),
        source_line=line or 0,
    )


def parse_feature(rep: Reporter, raw: Any, line: int | None) -> tuple[Feature, bool]:
    """Parse a feature; the flag says whether ``maturity`` was given explicitly."""
    raw, name, what = _named_entry(rep, raw, line, entry="feature", keys=_FEATURE_KEYS)
    maturity = raw.get("maturity")
    if maturity is not None and maturity not in MATURITIES:
        raise rep.error(f"{what}: maturity must be one of {', '.join(MATURITIES)}", line=line)
    texts = {}
    for key in ("title", "description", "switch"):
        value = raw.get(key, "")
        if not isinstance(value, str):
            raise rep.error(f"{what}: {key} must be a string", line=line)
        texts[key] = " ".join(value.split())
    feature = Feature(
        name=name,
        title=texts["title"] or name,
        description=texts["description"],
        maturity=maturity or "GA",
        switch=texts["switch"] or "always",
        assets=_str_list(rep, raw, "assets", what, line),
        groups=_str_list(rep, raw, "groups", what, line),
        requires=_str_list(rep, raw, "requires", what, line),
        recommended=_str_list(rep, raw, "recommended", what, line),
    )
    return feature, maturity is not None
