"""docs/architecture.md names only what exists: every path, module, class, function
and method it cites in backticks is checked against the code.

A rename or a removal that leaves the page behind fails here, so the page stays
true line by line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support import pyast

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "autopilot"
DOC = ROOT / "docs" / "architecture.md"

# Words of the page that are not names in the code: an example object of the story.
EXAMPLES = {"openshift-cnv/virt-platform-autopilot-metrics"}
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(\(.*\))?$")


def cited() -> list[str]:
    """Every backticked span of the page, in order, without repeats."""
    return list(dict.fromkeys(re.findall(r"`([^`\n]+)`", DOC.read_text(encoding="utf-8"))))


def definitions() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module name -> names it defines at top level, class name -> its members)."""
    modules: dict[str, set[str]] = {}
    classes: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        tree = pyast.parse(path.read_text(encoding="utf-8"))
        modules[".".join(parts)] = {name for node in tree.body for name in _names(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                members = {name for child in node.body for name in _names(child)}
                classes.setdefault(node.name, set()).update(members)
    return modules, classes


def _names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def source_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py")))


def problem(span: str, modules: dict[str, set[str]], classes: dict[str, set[str]],
            text: str) -> str | None:
    """Why ``span`` names nothing that exists (None: it does)."""
    if span in EXAMPLES:
        return None
    if span.startswith("autopilot ") and not span.startswith("autopilot/"):
        command = span.split()[1]
        return None if (PACKAGE / "commands" / f"{command}.py").is_file() else "no command"
    if span.endswith((".py", "/", ".toml")):
        if (PACKAGE / span).exists() or (ROOT / span).exists():
            return None
        if "/" not in span.rstrip("/") and any(PACKAGE.rglob(span)):
            return None  # a module named inside its package's row
        return "no such file or folder"
    if IDENTIFIER.match(span) and span != span.upper():
        return _identifier_problem(span.split("(")[0], modules, classes)
    # Anything else (an endpoint, a watch event type, an environment variable): the code
    # must spell it somewhere.
    return None if span.rstrip("*") in text else "not found in autopilot/"


def _identifier_problem(name: str, modules: dict[str, set[str]],
                        classes: dict[str, set[str]]) -> str | None:
    head, _, last = name.rpartition(".")
    if not head:
        if name == PACKAGE.name or name in modules or name in classes:
            return None
        found = any(name in names for names in modules.values()) or any(
            name in members for members in classes.values())
        return None if found else "defined nowhere in autopilot/"
    if head in classes:
        return None if last in classes[head] else f"{head} has no {last}"
    if head in modules:
        return None if last in modules[head] else f"autopilot.{head} defines no {last}"
    return f"{head} is neither a class nor a module of autopilot/"


def test_every_name_the_architecture_page_cites_exists() -> None:
    modules, classes = definitions()
    text = source_text()
    wrong = {span: why for span in cited()
             if (why := problem(span, modules, classes, text)) is not None}
    assert wrong == {}


def test_the_check_catches_a_stale_name() -> None:
    modules, classes = definitions()
    text = source_text()
    assert problem("controller/edit_war.py", modules, classes, text) is not None
    assert problem("engine/throttle.py", modules, classes, text) is not None
    assert problem("Reconciler.current_exclusions", modules, classes, text) is not None
    assert problem("runtime.process.no_such_function(x)", modules, classes, text) is not None
    assert problem("NoSuchClass", modules, classes, text) is not None
    assert problem("/debug/no-such-endpoint", modules, classes, text) is not None
    assert problem("autopilot frobnicate", modules, classes, text) is not None
    assert problem("ClusterCache.cached_object", modules, classes, text) is None
