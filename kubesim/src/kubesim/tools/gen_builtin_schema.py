"""Generate ``data/builtin_types.json``: the SSA shape of built-in kinds.

Reads the OpenAPI v3 group-version documents recorded from a real kube-apiserver
and keeps only what server-side apply, pruning and create-time comparison need:
types, named fields, map/list semantics (list-type, list-map-keys, map-type,
legacy patch-merge-key), int-or-string, preserve-unknown-fields and simple
defaults. Run:

    python -m kubesim.tools.gen_builtin_schema <openapi-dir> [<out-file>]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

_REF_PREFIX = "#/components/schemas/"
_SKIP_KINDS = frozenset({"DeleteOptions", "WatchEvent", "Status"})
_OUT = Path(__file__).parents[1] / "data" / "builtin_types.json"


def _ref_name(ref: str) -> str:
    return ref[len(_REF_PREFIX) :] if ref.startswith(_REF_PREFIX) else ref


def _list_semantics(raw: dict[str, Any], out: dict[str, Any]) -> None:
    list_type = raw.get("x-kubernetes-list-type")
    if list_type in ("set", "map"):
        out["lt"] = list_type
        if list_type == "map":
            out["lk"] = list(raw.get("x-kubernetes-list-map-keys", []))
        return
    if list_type is None and "merge" in str(raw.get("x-kubernetes-patch-strategy", "")).split(","):
        # Older annotations: a strategic-merge list is associative for SSA too.
        key = raw.get("x-kubernetes-patch-merge-key")
        if key:
            out["lt"], out["lk"] = "map", [key]
        else:
            out["lt"] = "set"


def _simple_default(value: Any) -> bool:
    return value == {} or isinstance(value, str | int | float | bool)


def convert(raw: dict[str, Any], refs: set[str]) -> dict[str, Any]:
    """Compact one OpenAPI schema node; records referenced type names in ``refs``."""
    out: dict[str, Any] = {}
    if "$ref" in raw:
        out["$"] = _ref_name(raw["$ref"])
    else:
        parts = [p for p in raw.get("allOf", []) if isinstance(p, dict) and "$ref" in p]
        if len(parts) == 1:
            out["$"] = _ref_name(parts[0]["$ref"])
    if "$" in out:
        refs.add(out["$"])
        if "default" in raw and _simple_default(raw["default"]):
            out["d"] = raw["default"]
        return out
    if raw.get("type"):
        out["t"] = raw["type"]
    props = raw.get("properties")
    if isinstance(props, dict) and props:
        out["p"] = {k: convert(v, refs) for k, v in sorted(props.items())}
    extra = raw.get("additionalProperties")
    if isinstance(extra, dict):
        out["a"] = convert(extra, refs)
    items = raw.get("items")
    if isinstance(items, dict):
        out["i"] = convert(items, refs)
        _list_semantics(raw, out)
    if raw.get("x-kubernetes-map-type") == "atomic":
        out["mt"] = "atomic"
    if raw.get("x-kubernetes-preserve-unknown-fields"):
        out["u"] = 1
    if raw.get("x-kubernetes-int-or-string") or raw.get("format") == "int-or-string":
        out["ios"] = 1
    if "default" in raw and _simple_default(raw["default"]):
        out["d"] = raw["default"]
    return out


def generate(openapi_dir: Path) -> dict[str, Any]:
    """Build the table from every ``api*.json`` group-version document in ``openapi_dir``."""
    schemas: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for doc_path in sorted(openapi_dir.glob("api*.json")):
        doc = json.loads(doc_path.read_text("utf-8"))
        comps = doc.get("components", {}).get("schemas", {})
        schemas.update(comps)
        group_version = _doc_group_version(doc_path.name)
        for name, raw in comps.items():
            for gvk in raw.get("x-kubernetes-group-version-kind", []):
                api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
                if api_version == group_version and gvk["kind"] not in _SKIP_KINDS:
                    kinds.setdefault(f"{api_version}/{gvk['kind']}", name)
    types: dict[str, Any] = {}
    pending = sorted(set(kinds.values()))
    while pending:
        name = pending.pop()
        if name in types or name not in schemas:
            continue
        refs: set[str] = set()
        types[name] = convert(schemas[name], refs)
        pending.extend(sorted(refs - types.keys()))
    return {
        "source": "kube-apiserver v1.36 /openapi/v3 group-version documents",
        "kinds": dict(sorted(kinds.items())),
        "types": dict(sorted(types.items())),
    }


def _doc_group_version(filename: str) -> str:
    stem = filename.removesuffix(".json")
    if stem == "api_v1":
        return "v1"
    group, _, version = stem.removeprefix("apis_").rpartition("_")
    return f"{group}/{version}"


def main(argv: list[str]) -> int:
    """Entry point: ``gen_builtin_schema <openapi-dir> [<out-file>]``."""
    if not argv:
        print("usage: gen_builtin_schema <openapi-dir> [<out-file>]", file=sys.stderr)
        return 2
    out = Path(argv[1]) if len(argv) > 1 else _OUT
    table = generate(Path(argv[0]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, separators=(",", ":"), sort_keys=False) + "\n", "utf-8")
    print(f"wrote {out}: {len(table['kinds'])} kinds, {len(table['types'])} types")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
