"""aiohttp's default TLS contexts lose the system trust store the controller never uses."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import connector

from autopilot.kube.tlsdefaults import NOT_VERIFYING, VERIFYING, release_default_trust_stores


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put aiohttp's own contexts back after the test (the release changes module state)."""
    for name in (VERIFYING, NOT_VERIFYING):
        monkeypatch.setattr(connector, name, getattr(connector, name))


def _store(name: str) -> int:
    ctx = getattr(connector, name)
    assert isinstance(ctx, ssl.SSLContext), f"aiohttp no longer names its default {name}"
    return int(ctx.cert_store_stats()["x509"])


@pytest.mark.usefixtures("restored")
def test_both_default_contexts_lose_their_certificates_and_keep_their_settings() -> None:
    holding = sum(1 for name in (VERIFYING, NOT_VERIFYING) if _store(name))
    assert release_default_trust_stores() == holding
    assert (_store(VERIFYING), _store(NOT_VERIFYING)) == (0, 0)
    verifying, not_verifying = getattr(connector, VERIFYING), getattr(connector, NOT_VERIFYING)
    assert (verifying.verify_mode, verifying.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert (not_verifying.verify_mode, not_verifying.check_hostname) == (ssl.CERT_NONE, False)
    assert release_default_trust_stores() == 0  # idempotent


# `autopilot run` in a fresh interpreter, stopped early by a kubeconfig naming no
# cluster (read once the loop runs, after the release).
PROBE = """
import sys
from aiohttp import connector
from autopilot import cli
try:
    cli.main(["run", "--kubeconfig", sys.argv[1]])
except SystemExit:
    pass
print(connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509"],
      connector._SSL_CONTEXT_UNVERIFIED.cert_store_stats()["x509"])
"""


def test_the_run_command_releases_them(tmp_path: Path) -> None:
    empty = tmp_path / "kubeconfig"
    empty.write_text("apiVersion: v1\nkind: Config\n")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(empty)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["0", "0"], done.stdout[-2000:]
