"""The Jinja2 environment every golden-state template runs in, and its pure helpers.

Cluster lookups (``crd_enum``, ``object_exists`` …) are bound per render in
:mod:`autopilot.golden.render`; everything here is independent of the cluster.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from autopilot.golden import yamlwrite
from autopilot.golden.names_read import NamesRead
from autopilot.yamlload import copy_tree, load_one, yaml_problem

if TYPE_CHECKING:
    from ruamel.yaml import YAML

_MISSING = object()
GZIP_LEVEL = 9


class RenderFailed(Exception):
    """Raised by a template (``fail(...)``, bad ``from_json`` input) to abort its asset."""


def lookup(obj: Any, path: str, default: Any = None) -> Any:
    """Nested get: ``lookup(hco, "spec.a.0.b", default)``; any missing step gives ``default``."""
    current = obj
    if path in ("", None):
        return current
    for part in str(path).split("."):
        if isinstance(current, dict):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and _is_index(part):
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else _MISSING
        else:
            current = _MISSING
        if current is _MISSING or isinstance(current, jinja2.Undefined):
            return default
    return current if current is not None else default


def _is_index(part: str) -> bool:
    return part.lstrip("-").isdigit()


@functools.cache
def _representer() -> type[Any]:
    """ruamel's safe representer, quoting what YAML 1.1 readers would not read as strings.

    Used only where libyaml is missing (:mod:`autopilot.golden.yamlwrite` writes
    otherwise), and by the tests as the reference that writer keeps to.
    """
    from ruamel.yaml.representer import SafeRepresenter

    class Representer(SafeRepresenter):
        """Quotes strings that YAML 1.1 readers would turn into booleans or numbers."""

        def represent_str(self, data: Any) -> Any:
            if yamlwrite.reads_as_other_than_text_in_yaml11(data):
                return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
            return super().represent_str(data)

    Representer.add_representer(str, Representer.represent_str)
    return Representer


def _yaml() -> YAML:
    from ruamel.yaml import YAML  # imported on first use: see _representer

    y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    y.width = yamlwrite.WIDTH
    y.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    y.Representer = _representer()
    return y


def to_yaml(value: Any) -> str:
    """Block-style YAML of ``value`` without the trailing newline (for ``indent``)."""
    if yamlwrite.available():
        text = yamlwrite.dump(value)
    else:
        stream = io.StringIO()
        _yaml().dump(value, stream)
        text = stream.getvalue()
    if text.endswith("\n...\n"):
        text = text[: -len("\n...\n")]
    return text.rstrip("\n")


@functools.lru_cache(maxsize=256)
def _parse_yaml_cached(text: str) -> Any:
    return load_one(text)


def from_yaml(text: str) -> Any:
    """Parse one YAML document (safe loader); repeated texts are parsed once."""
    try:
        return copy_tree(_parse_yaml_cached(str(text)))
    except Exception as exc:
        problem = yaml_problem(exc)
        if problem is None:
            raise
        raise RenderFailed(f"invalid YAML: {_one_line(problem.message)}") from None


def to_json(value: Any) -> str:
    """Compact-ish, key-order-preserving JSON (valid YAML flow syntax too)."""
    return json.dumps(value, ensure_ascii=False)


def from_json(text: Any, what: str = "JSON value") -> Any:
    """Parse JSON; a parse error aborts the render with a message naming ``what``."""
    try:
        return json.loads(str(text))
    except ValueError as exc:
        raise RenderFailed(f"invalid JSON in {what}: {exc}") from None


def gzip_bytes(data: bytes) -> bytes:
    """gzip with a fixed header (mtime 0, no file name, OS 'unknown') and level 9.

    Writing the header by hand keeps the bytes identical across Python versions.
    """
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
    body = compressor.compress(data) + compressor.flush()
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\xff"
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return header + body + trailer


def gzip_base64(text: Any) -> str:
    """Deterministic gzip + base64 of a text (UTF-8) or bytes value."""
    data = text if isinstance(text, bytes) else str(text).encode("utf-8")
    return base64.b64encode(gzip_bytes(data)).decode("ascii")


def fail(message: Any = "template called fail()") -> None:
    """Abort rendering of the current asset."""
    raise RenderFailed(str(message))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def make_environment(root: Path) -> SandboxedEnvironment:
    """A sandboxed, strict-undefined Jinja2 environment rooted at the golden state."""
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(root)),  # refuses ".." itself
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        # Jinja's default whitespace handling: templates control it with {%- -%}.
        keep_trailing_newline=True,
        # Compiled once per load, never re-read: no stat of the file at each render,
        # and every template kept however many the golden state has.
        auto_reload=False,
        cache_size=-1,
        extensions=[NamesRead],
    )
    root_resolved = root.resolve()
    # The golden state is immutable once loaded: read each file once.
    file_cache: dict[Path, str] = {}

    def read_file(relative: str) -> str:
        """Text of a file under the golden state; refuses paths that leave it."""
        target = (root_resolved / str(relative)).resolve()
        if not target.is_relative_to(root_resolved):
            raise RenderFailed(f"read_file: {relative!r} is outside the golden state")
        if target not in file_cache:
            try:
                file_cache[target] = target.read_text(encoding="utf-8")
            except OSError as exc:
                raise RenderFailed(
                    f"read_file: cannot read {relative!r}: {exc.strerror}"
                ) from None
            except UnicodeDecodeError:
                raise RenderFailed(f"read_file: {relative!r} is not UTF-8 text") from None
        return file_cache[target]

    helpers: dict[str, Any] = {
        "lookup": lookup,
        "to_yaml": to_yaml,
        "from_yaml": from_yaml,
        "to_json": to_json,
        "from_json": from_json,
        "gzip_base64": gzip_base64,
        "read_file": read_file,
        "fail": fail,
    }
    env.globals.update(helpers)
    env.filters.update(helpers)
    return env
