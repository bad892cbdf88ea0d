"""Render one asset's template into Kubernetes objects.

Output is parsed with a safe YAML loader; several documents are allowed and an empty
output means "not applicable". Every rendered object gets the ownership label.
Errors are :class:`RenderError` with one line naming the asset and template (and line).
"""

from __future__ import annotations

import functools
import types
from pathlib import Path
from typing import Any

import jinja2

from autopilot import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.golden.catalog import Asset, GoldenState
from autopilot.golden.context import RenderContext
from autopilot.golden.lookups import Lookups
from autopilot.golden.templating import RenderFailed
from autopilot.yamlload import copy_tree, load_all, yaml_problem

LOOKUP_HELPERS = (
    "crd_enum",
    "object_exists",
    "configmap_value",
    "recording_rule_exists",
    "rwx_storage_class",
    "default_storage_class",
    "get_object",
)


class RenderError(Exception):
    """An asset failed to render; ``str()`` is one line naming asset and template."""

    def __init__(self, message: str, *, asset: str, template: str, line: int | None) -> None:
        self.asset = asset
        self.template = template
        self.line = line
        self.detail = " ".join(message.split())
        where = f"{template}:{line}" if line else template
        super().__init__(f"asset {asset!r} ({where}): {self.detail}")


def _template_line(exc: BaseException, filenames: set[str]) -> int | None:
    """Line of the innermost traceback frame that belongs to the template file."""
    line: int | None = None
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in filenames:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@functools.lru_cache(maxsize=512)
def _parse_cached(text: str) -> tuple[Any, ...]:
    return tuple(doc for doc in load_all(text) if doc is not None)


def _parse_documents(text: str) -> list[Any]:
    """Parse rendered output; an unchanged output (the steady state) is parsed once."""
    return [copy_tree(doc) for doc in _parse_cached(text)]


def _check_object(doc: Any, index: int) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ValueError(f"document {index} is not a mapping")
    meta = doc.get("metadata")
    if not (
        isinstance(doc.get("apiVersion"), str)
        and isinstance(doc.get("kind"), str)
        and isinstance(meta, dict)
        and isinstance(meta.get("name"), str)
        and meta["name"]
    ):
        raise ValueError(f"document {index} needs apiVersion, kind and metadata.name")
    labels = meta.get("labels")
    if labels is None:
        labels = meta["labels"] = {}
    if not isinstance(labels, dict):
        raise ValueError(f"document {index}: metadata.labels must be a mapping")
    labels[MANAGED_BY_LABEL] = MANAGED_BY_VALUE
    return doc


def render_text(
    golden: GoldenState, asset: Asset, ctx: RenderContext, *, lookups: Lookups
) -> str:
    """The raw template output for ``asset`` (before YAML parsing)."""
    template_file = str(Path(golden.root) / asset.path)
    env = golden.environment()
    variables = ctx.variables(asset=asset.name, params=asset.params)
    for helper in LOOKUP_HELPERS:
        variables[helper] = getattr(lookups, helper)
    filenames = {template_file}
    try:
        template = env.get_template(asset.path)
        if template.filename:
            filenames.add(template.filename)
        return template.render(variables)
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(
            f"template syntax error: {exc.message}",
            asset=asset.name,
            template=template_file,
            line=exc.lineno,
        ) from None
    except jinja2.TemplateNotFound:
        raise RenderError(
            "template file not found", asset=asset.name, template=template_file, line=None
        ) from None
    except jinja2.UndefinedError as exc:
        raise RenderError(
            f"undefined: {exc.message}",
            asset=asset.name,
            template=template_file,
            line=_template_line(exc, filenames),
        ) from None
    except RenderFailed as exc:
        raise RenderError(
            f"render failed: {exc}",
            asset=asset.name,
            template=template_file,
            line=_template_line(exc, filenames),
        ) from None
    except jinja2.exceptions.SecurityError as exc:
        raise RenderError(
            f"unsafe template operation: {exc}",
            asset=asset.name,
            template=template_file,
            line=_template_line(exc, filenames),
        ) from None
    except Exception as exc:  # any other template-time error must stay one line
        raise RenderError(
            f"{type(exc).__name__}: {exc}",
            asset=asset.name,
            template=template_file,
            line=_template_line(exc, filenames),
        ) from None


def render_asset(
    golden: GoldenState, asset: Asset, ctx: RenderContext, *, lookups: Lookups
) -> list[dict[str, Any]]:
    """Render ``asset`` into objects (``[]`` = not applicable); raises :class:`RenderError`."""
    text = render_text(golden, asset, ctx, lookups=lookups)
    template_file = str(Path(golden.root) / asset.path)
    try:
        docs = _parse_documents(text)
    except Exception as exc:
        problem = yaml_problem(exc)
        if problem is None:
            raise
        message = (f"output is not valid YAML (output line {problem.line}): {problem.problem}"
                   if problem.marked else f"output is not valid YAML: {problem.message}")
        raise RenderError(message, asset=asset.name, template=template_file, line=None) from None
    try:
        return [_check_object(doc, i + 1) for i, doc in enumerate(docs)]
    except ValueError as exc:
        raise RenderError(
            f"rendered {exc}", asset=asset.name, template=template_file, line=None
        ) from None
