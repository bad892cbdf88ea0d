"""Node scripts run on the RHCOS python: 3.9 syntax, standard library only, a --root option."""

from __future__ import annotations

import ast
import sys

import pytest

from tests.support import pyast
from tests.support.node_scripts import SCRIPTS

NAMES = sorted(p.name for p in SCRIPTS.glob("*.py"))


def test_expected_scripts_exist() -> None:
    assert {
        "io_latency_protection.py",
        "ksm_zero_pages.py",
        "swap_online.py",
        "swap_watermark_tuning.py",
        "thp_tuning.py",
        "vm_drain_inhibitor.py",
    } <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_python39_syntax_and_stdlib_only(name: str) -> None:
    source = (SCRIPTS / name).read_text()
    tree = pyast.parse(source, filename=name, feature_version=(3, 9))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    assert modules - set(sys.stdlib_module_names) == set(), name
    assert source.startswith("#!/usr/bin/env python3\n")
    assert "--root" in source and "--dry-run" in source
