"""The golden-state catalogue: features, assets, tombstones, and a strict loader.

Layout: ``catalog/*.yaml`` (merged, in file-name order), ``assets/**.j2``, ``files/``,
``tombstones/**.yaml``, ``aliases/*.yaml`` (other names for our assets, see
:mod:`autopilot.golden.aliases`) and ``VERSION``. A catalog file holds ``features``, ``assets``,
``excluded_assets`` and, rarely, ``plurals`` (``Kind: resource`` for kinds whose REST
name English pluralisation gets wrong; used by ``autopilot rbac``) and
``few_per_cluster`` and ``hundreds_per_cluster`` (``{group, kind}`` of managed kinds a
cluster holds a handful, or up to hundreds, of: the controller watches all of them,
whatever their labels, keeping the first whole and the second's unlabelled ones as a
name), ``in_one_namespace`` (managed kinds the golden state renders into one
namespace: watched whole there) and ``by_name`` (managed kinds it renders a few objects
of: each watched by its name). Every problem is
reported as a :class:`GoldenStateError` whose message is one line naming the file,
line and entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from autopilot.golden.aliases import Alias, load_aliases
from autopilot.golden.entries import (
    CONDITION_FIELDS,
    HARDWARE_DETECTORS,
    INSTALL_MODES,
    MATURITIES,
    TOPOLOGY_FLAGS,
    Asset,
    Condition,
    Feature,
    parse_asset,
    parse_feature,
)
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

# How a managed kind may be declared watched (golden_state/README.md): one of these.
_SCOPES = ("few_per_cluster", "hundreds_per_cluster", "in_one_namespace", "by_name")
_FILE_KEYS = frozenset({"features", "assets", "excluded_assets", "plurals", *_SCOPES})
# (group, kind); the core group is "".
GroupKind = tuple[str, str]


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
    # Managed kinds with a few objects per cluster: watched whole, not label-selected.
    few_per_cluster: frozenset[GroupKind] = frozenset()
    # Managed kinds with up to hundreds of objects per cluster: watched whole, the objects
    # without our label kept as a name (and what the sweep reads), not label-selected.
    hundreds_per_cluster: frozenset[GroupKind] = frozenset()
    # Managed kinds whose objects the golden state renders into one namespace: watched
    # whole in that namespace, the objects without our label kept as a summary.
    in_one_namespace: frozenset[GroupKind] = frozenset()
    # Managed kinds the golden state renders a few objects of: each watched by its name.
    by_name: frozenset[GroupKind] = frozenset()
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


@dataclass
class _Collected:
    assets: dict[str, Asset] = field(default_factory=dict)
    features: dict[str, tuple[Feature, bool, Reporter, int | None]] = field(default_factory=dict)
    excluded: dict[str, tuple[Reporter, int | None]] = field(default_factory=dict)
    plurals: dict[str, str] = field(default_factory=dict)
    # How each declared managed kind is watched: _SCOPES key -> (group, kind).
    scopes: dict[str, set[GroupKind]] = field(default_factory=dict)


def _group_kinds(rep: Reporter, data: Mapping[str, object], key: str) -> set[GroupKind]:
    """The entries of one catalog file declaring how kinds are watched (``_SCOPES``)."""
    entries = data.get(key) or []
    line = line_of(data, key)
    if not isinstance(entries, list):
        raise rep.error(f"'{key}' must be a list", line=line)
    out: set[GroupKind] = set()
    for entry in entries:
        if not (isinstance(entry, Mapping) and set(entry) == {"group", "kind"}
                and isinstance(entry["group"], str) and isinstance(entry["kind"], str)
                and entry["kind"]):
            raise rep.error(
                f"{key}: {entry!r} must be {{group: <API group>, kind: <Kind>}}",
                line=line)
        out.add((entry["group"], entry["kind"]))
    return out


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
        asset = parse_asset(rep, raw, line)
        if asset.name in out.assets:
            raise rep.error(
                f"asset {asset.name!r}: duplicate "
                f"(first defined at {out.assets[asset.name].source})",
                line=line,
            )
        out.assets[asset.name] = asset
    for i, raw in enumerate(data.get("features") or []):
        line = line_of(data["features"], i)
        feature, explicit = parse_feature(rep, raw, line)
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
    for key in _SCOPES:
        out.scopes.setdefault(key, set()).update(_group_kinds(rep, data, key))
    for i, first in enumerate(_SCOPES):
        for second in _SCOPES[i + 1:]:
            twice = out.scopes[first] & out.scopes[second]
            both = sorted(f"{kind}.{group}" if group else kind for group, kind in twice)
            if both:
                raise rep.error(f"declared both {first} and {second}: {', '.join(both)}",
                                line=line_of(data, second))


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
        # Compiled once, here: the environment keeps it for every render of this load.
        env.get_template(asset.path)
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
        few_per_cluster=frozenset(collected.scopes.get("few_per_cluster", ())),
        hundreds_per_cluster=frozenset(collected.scopes.get("hundreds_per_cluster", ())),
        in_one_namespace=frozenset(collected.scopes.get("in_one_namespace", ())),
        by_name=frozenset(collected.scopes.get("by_name", ())),
        aliases=load_aliases(root, assets=collected.assets.keys(), groups=groups),
        env=env,
    )


def asset_names(assets: Iterable[Asset]) -> list[str]:
    """Names of ``assets`` (convenience for messages)."""
    return [a.name for a in assets]
