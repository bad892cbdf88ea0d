"""The golden-state catalogue: features, assets, tombstones, and a strict loader.

Layout: ``catalog/*.yaml`` (merged, in file-name order), ``assets/**.j2``, ``files/``,
``tombstones/**.yaml``, ``aliases/*.yaml`` (other names for our assets, see
:mod:`autopilot.golden.aliases`) and ``VERSION``. A catalog file holds ``features``, ``assets``,
``excluded_assets`` and, rarely, ``plurals`` (``Kind: resource`` for kinds whose REST
name English pluralisation gets wrong; used by ``autopilot rbac``). Every problem is
reported as a :class:`GoldenStateError` whose message is one line naming the file,
line and entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from autopilot.golden.aliases import Alias, load_aliases
from autopilot.golden.templating import make_environment
from autopilot.golden.tombstones import Tombstone, check_tombstones, load_tombstones
from autopilot.golden.yamlfile import GoldenStateError, Reporter, line_of, load_documents

__all__ = [
    "CONDITION_FIELDS",
    "HARDWARE_DETECTORS",
    "INSTALL_MODES",
    "MATURITIES",
    "TOPOLOGY_FLAGS",
    "Asset",
    "Condition",
    "Feature",
    "GoldenState",
    "GoldenStateError",
    "Tombstone",
    "load_golden_state",
]

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
_FILE_KEYS = frozenset({"features", "assets", "excluded_assets", "plurals"})


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


@dataclass(frozen=True)
class GoldenState:
    """A loaded, validated golden state."""

    root: Path
    version: str
    assets: tuple[Asset, ...]
    features: tuple[Feature, ...]
    tombstones: tuple[Tombstone, ...] = ()
    excluded_assets: tuple[str, ...] = ()
    plurals: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[Alias, ...] = ()
    env: SandboxedEnvironment | None = field(default=None, repr=False, compare=False)

    def asset(self, name: str) -> Asset:
        """The asset called ``name``; ``KeyError`` when unknown."""
        for asset in self.assets:
            if asset.name == name:
                return asset
        raise KeyError(name)

    def has_asset(self, name: str) -> bool:
        """Whether an asset called ``name`` exists."""
        return any(a.name == name for a in self.assets)

    def assets_by_group(self, group: str) -> tuple[Asset, ...]:
        """Assets whose ``group`` is ``group`` (in apply order)."""
        return tuple(a for a in self.assets if group and a.group == group)

    def groups(self) -> frozenset[str]:
        """Every non-empty asset group."""
        return frozenset(a.group for a in self.assets if a.group)

    def feature(self, name: str) -> Feature:
        """The feature called ``name``; ``KeyError`` when unknown."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    def feature_assets(self, feature: Feature) -> tuple[Asset, ...]:
        """Assets of a feature (named or through its groups), in apply order."""
        return tuple(a for a in self.assets if a.feature == feature.name)

    def template_path(self, asset: Asset) -> Path:
        """File of the asset's template."""
        return self.root / asset.path

    def environment(self) -> SandboxedEnvironment:
        """The Jinja2 environment (created at load time)."""
        if self.env is None:
            object.__setattr__(self, "env", make_environment(self.root))
        assert self.env is not None
        return self.env


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


def _parse_asset(rep: Reporter, raw: Any, line: int | None) -> Asset:
    if not isinstance(raw, Mapping):
        raise rep.error("an asset entry must be a mapping", line=line)
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise rep.error("asset without a 'name'", line=line)
    what = f"asset {name!r}"
    unknown = sorted(set(raw) - _ASSET_KEYS)
    if unknown:
        raise rep.error(f"{what}: unknown key(s) {', '.join(map(str, unknown))}", line=line)
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


def _parse_feature(rep: Reporter, raw: Any, line: int | None) -> tuple[Feature, bool]:
    """Parse a feature; the flag says whether ``maturity`` was given explicitly."""
    if not isinstance(raw, Mapping):
        raise rep.error("a feature entry must be a mapping", line=line)
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise rep.error("feature without a 'name'", line=line)
    what = f"feature {name!r}"
    unknown = sorted(set(raw) - _FEATURE_KEYS)
    if unknown:
        raise rep.error(f"{what}: unknown key(s) {', '.join(map(str, unknown))}", line=line)
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


@dataclass
class _Collected:
    assets: dict[str, Asset] = field(default_factory=dict)
    features: dict[str, tuple[Feature, bool, Reporter, int | None]] = field(default_factory=dict)
    excluded: dict[str, tuple[Reporter, int | None]] = field(default_factory=dict)
    plurals: dict[str, str] = field(default_factory=dict)


def _collect_file(path: Path, out: _Collected) -> None:
    rep = Reporter(path)
    docs = load_documents(path)
    if len(docs) != 1 or not isinstance(docs[0], Mapping):
        raise rep.error("a catalog file must hold one mapping")
    data = docs[0]
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        raise rep.error(f"unknown top-level key(s) {', '.join(map(str, unknown))}")
    for section in ("features", "assets", "excluded_assets"):
        if not isinstance(data.get(section) or [], list):
            raise rep.error(f"'{section}' must be a list", line=line_of(data, section))
    for i, raw in enumerate(data.get("assets") or []):
        line = line_of(data["assets"], i)
        asset = _parse_asset(rep, raw, line)
        if asset.name in out.assets:
            raise rep.error(
                f"asset {asset.name!r}: duplicate "
                f"(first defined at {out.assets[asset.name].source})",
                line=line,
            )
        out.assets[asset.name] = asset
    for i, raw in enumerate(data.get("features") or []):
        line = line_of(data["features"], i)
        feature, explicit = _parse_feature(rep, raw, line)
        if feature.name in out.features:
            raise rep.error(f"feature {feature.name!r}: duplicate", line=line)
        out.features[feature.name] = (feature, explicit, rep, line)
    for i, name in enumerate(data.get("excluded_assets") or []):
        if not isinstance(name, str):
            raise rep.error(
                "excluded_assets must list asset names", line=line_of(data, "excluded_assets")
            )
        out.excluded[name] = (rep, line_of(data["excluded_assets"], i))
    plurals = data.get("plurals") or {}
    if not isinstance(plurals, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in plurals.items()
    ):
        raise rep.error(
            "'plurals' must map Kind to plural resource name", line=line_of(data, "plurals")
        )
    out.plurals.update({str(k): str(v) for k, v in plurals.items()})


def _check_template(root: Path, env: SandboxedEnvironment, asset: Asset) -> None:
    rep = Reporter(Path(asset.source_file))
    line = asset.source_line or None
    rel = Path(asset.path)
    if rel.is_absolute() or ".." in rel.parts:
        raise rep.error(f"asset {asset.name!r}: path must stay inside the golden state", line=line)
    template = root / rel
    if not template.is_file():
        raise rep.error(f"asset {asset.name!r}: template {template} does not exist", line=line)
    try:
        source = template.read_text(encoding="utf-8")
        env.parse(source, name=asset.path, filename=str(template))
    except jinja2.TemplateSyntaxError as exc:
        where = f"{template}:{exc.lineno}" if exc.lineno else str(template)
        msg = " ".join(str(exc.message).split())
        raise GoldenStateError(
            f"{where}: asset {asset.name!r}: template syntax error: {msg}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise rep.error(f"asset {asset.name!r}: cannot read template {template}: {exc}") from None


def _resolve_features(out: _Collected) -> tuple[tuple[Feature, ...], dict[str, str]]:
    """Check feature references; map every asset to its feature."""
    owner: dict[str, str] = {}
    groups = {a.group for a in out.assets.values() if a.group}
    features: list[Feature] = []
    for feature, explicit, rep, line in out.features.values():
        what = f"feature {feature.name!r}"
        for name in feature.assets:
            if name not in out.assets:
                raise rep.error(f"{what}: unknown asset {name!r}", line=line)
        for group in feature.groups:
            if group not in groups:
                raise rep.error(f"{what}: no asset has group {group!r}", line=line)
        for ref in (*feature.requires, *feature.recommended):
            if ref not in out.features:
                raise rep.error(f"{what}: requires/recommends unknown feature {ref!r}", line=line)
        members = set(feature.assets) | {
            a.name for a in out.assets.values() if a.group and a.group in feature.groups
        }
        for name in sorted(members):
            if owner.get(name, feature.name) != feature.name:
                raise rep.error(
                    f"{what}: asset {name!r} already belongs to feature {owner[name]!r}", line=line
                )
            owner[name] = feature.name
        if not explicit and any(out.assets[n].install != "always" for n in members):
            raise rep.error(f"{what}: maturity is required when an asset is opt-in", line=line)
        features.append(feature)
    return tuple(features), owner


def load_golden_state(root: Path) -> GoldenState:
    """Load and validate the golden state under ``root``; raise :class:`GoldenStateError`."""
    root = Path(root)
    catalog_dir = root / "catalog"
    if not catalog_dir.is_dir():
        raise GoldenStateError(f"{catalog_dir}: golden-state catalog directory not found")
    version_file = root / "VERSION"
    try:
        version = version_file.read_text(encoding="utf-8").strip()
    except OSError:
        raise GoldenStateError(f"{version_file}: missing golden-state VERSION file") from None
    except UnicodeDecodeError:
        raise GoldenStateError(f"{version_file}: VERSION is not UTF-8 text") from None
    if not version or len(version.split()) != 1:
        raise GoldenStateError(f"{version_file}: VERSION must be one non-empty word")
    files = sorted({*catalog_dir.glob("*.yaml"), *catalog_dir.glob("*.yml")})
    if not files:
        raise GoldenStateError(f"{catalog_dir}: no catalog files")
    collected = _Collected()
    for path in files:
        _collect_file(path, collected)
    features, owner = _resolve_features(collected)
    for name, (rep, line) in collected.excluded.items():
        if name not in collected.assets:
            raise rep.error(f"excluded_assets: unknown asset {name!r}", line=line)
        if name in owner:
            raise rep.error(
                f"excluded_assets: asset {name!r} also belongs to feature {owner[name]!r}",
                line=line,
            )
    env = make_environment(root)
    assets: list[Asset] = []
    for asset in collected.assets.values():
        if asset.name not in owner and asset.name not in collected.excluded:
            raise Reporter(Path(asset.source_file)).error(
                f"asset {asset.name!r}: belongs to no feature and is not in excluded_assets",
                line=asset.source_line or None,
            )
        _check_template(root, env, asset)
        assets.append(dataclasses.replace(asset, feature=owner.get(asset.name, "")))
    assets.sort(key=lambda a: (a.order, a.name))
    groups = {a.group for a in assets if a.group}
    tombstones = load_tombstones(root)
    check_tombstones(tombstones, root=root, assets=collected.assets.keys())
    return GoldenState(
        root=root,
        version=version,
        assets=tuple(assets),
        features=features,
        tombstones=tombstones,
        excluded_assets=tuple(sorted(collected.excluded)),
        plurals=dict(collected.plurals),
        aliases=load_aliases(root, assets=collected.assets.keys(), groups=groups),
        env=env,
    )


def asset_names(assets: Iterable[Asset]) -> list[str]:
    """Names of ``assets`` (convenience for messages)."""
    return [a.name for a in assets]
