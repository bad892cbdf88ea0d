"""Command-line tools some tests need (kubectl, promtool, openssl, ...).

Locally a missing tool skips the tests that need it, saying which; in CI
(``CI=true``) it fails them instead, because ``.ci/setup`` installs every tool and a
skip there would hide that a test never ran.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_tool(name: str) -> str:
    """The path of ``name``; skip (locally) or fail (in CI) when it is not installed."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed"
    if IN_CI:
        pytest.fail(f"{message}: .ci/setup installs it, and CI skips no test for a missing tool")
    pytest.skip(message)
