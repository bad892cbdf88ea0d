"""promtool for the rule tests: finding it, running it, and the files it reads.

promtool ships in Debian's ``prometheus`` package (``.ci/setup`` installs it); a test
that needs it is marked ``needs_promtool`` and skips without it (a failure in CI).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.needs_tool("promtool")


def rules_yaml() -> YAML:
    """Block-style YAML with long lines kept whole (PromQL must not be folded)."""
    y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    y.width = 4096
    return y


def write_yaml(path: Path, data: Any) -> None:
    """Write ``data`` as one YAML document."""
    buf = io.StringIO()
    rules_yaml().dump(data, buf)
    path.write_text(buf.getvalue())


def write_rules(folder: Path, rule: dict[str, Any]) -> Path:
    """The groups of a PrometheusRule as ``rules.yaml`` in ``folder``; returns ``folder``."""
    write_yaml(folder / "rules.yaml", {"groups": rule["spec"]["groups"]})
    return folder


def run_promtool(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run promtool in ``cwd``; its exit code and output are the caller's to judge."""
    assert PROMTOOL is not None, "promtool is not installed"
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)
