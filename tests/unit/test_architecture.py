"""The house's one-way rule: autopilot/ has no import cycle and no import up its layers.

Every import counts, wherever it sits (module level, inside a function, under
``TYPE_CHECKING``): each is a dependency of the design, even when Python would
tolerate it at run time. The layer order lives here; docs/architecture.md
explains it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support import pyast

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "autopilot"

# Lowest first. A module may import its own layer and the layers below it, never above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("package constants", ("autopilot",)),
    ("YAML reading", ("autopilot.yamlload",)),
    ("observability", ("autopilot.observability",)),
    ("kube", ("autopilot.kube",)),
    ("http and flags", ("autopilot.web", "autopilot.config")),
    ("runtime", ("autopilot.runtime",)),
    ("engine and golden", ("autopilot.engine", "autopilot.golden")),
    ("anti-thrashing", ("autopilot.antithrash",)),
    ("controller", ("autopilot.controller",)),
    # The OLM bundle generator reads manifests only; the csv command is its one user.
    # ``autopilot.plan`` is what ``autopilot plan`` computes (a command's own logic).
    ("commands", ("autopilot.commands", "autopilot.explain", "autopilot.demo", "autopilot.olm",
                  "autopilot.plan")),
    ("entry point", ("autopilot.cli", "autopilot.__main__")),
)
# Packages outside the product a module may use only where named (the `demo` extra).
OPTIONAL = {"kubesim": {"autopilot.commands.demo"}}
# Imports by name at run time hide from this walk; only the command registry may use
# them (it loads autopilot.commands.*, below it).
DYNAMIC_IMPORTS = {"autopilot.cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(tree: ast.AST, importer: str) -> Iterator[str]:
    """Every module named by an import in ``tree`` (``from a import b`` may name a.b)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{importer}: relative import"
            base = node.module or ""
            yield base
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    yield f"{base}.{alias.name}"


def graph() -> dict[str, set[str]]:
    """autopilot module -> the autopilot modules it imports (the package root excluded)."""
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = pyast.parse(path.read_text(encoding="utf-8"))
        edges[name] = {m for m in imported(tree, name) if m in MODULES and m != name}
    return edges


def layer_of(module: str) -> int:
    best, depth = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            # The package root holds only its own module: a new subpackage must be placed.
            below = module.startswith(prefix + ".") and prefix != "autopilot"
            if (module == prefix or below) and len(prefix) > depth:
                best, depth = index, len(prefix)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS"
    return best


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def test_no_import_goes_up_a_layer() -> None:
    upward = [
        f"{importer} ({LAYERS[layer_of(importer)][0]}) imports {target} "
        f"({LAYERS[layer_of(target)][0]})"
        for importer, targets in graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(importer)
    ]
    assert upward == []


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_no_import_cycle() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_hidden_imports() -> None:
    for name, path in MODULES.items():
        for node in ast.walk(pyast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__"):
                assert name in DYNAMIC_IMPORTS, f"{name}:{node.lineno} imports by name"


def test_optional_packages_only_where_allowed() -> None:
    for name, path in MODULES.items():
        tree = pyast.parse(path.read_text(encoding="utf-8"))
        for target in imported(tree, name):
            top = target.partition(".")[0]
            assert top != "tests", f"{name} imports test code ({target})"
            if top in OPTIONAL:
                assert name in OPTIONAL[top], f"{name} imports {target}, outside the product"


def test_kubesim_knows_nothing_of_the_controller() -> None:
    for path in sorted((ROOT / "kubesim").rglob("*.py")):
        tree = pyast.parse(path.read_text(encoding="utf-8"))
        names = list(imported(tree, str(path)))
        assert not [n for n in names if n.partition(".")[0] == "autopilot"], path


# Small pieces read in one screen; a module past this wants splitting by what it does.
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def test_functions_and_modules_stay_small() -> None:
    too_long = []
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(pyast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert not too_long, too_long


# A class past this holds more than one job: split it by what it does.
MAX_CLASS_LINES = 200


def test_classes_stay_small() -> None:
    sizes = {
        f"{name}.{node.name}": (node.end_lineno or node.lineno) - node.lineno + 1
        for name, path in MODULES.items()
        for node in ast.walk(pyast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
    }
    too_long = {c: n for c, n in sizes.items() if n > MAX_CLASS_LINES}
    assert too_long == {}, too_long
    assert sizes["autopilot.controller.reconciler.Reconciler"] < 120
