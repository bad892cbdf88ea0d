"""`autopilot run` on a malformed golden state: exit 2 and one line naming file and line.

The golden state is loaded before the controller talks to the API server, so the
kubeconfig here points at a port nobody listens on: no cluster is needed, and none
is reached.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.controller import PROJECT, free_port
from tests.support.golden_files import (
    MINIMAL_CATALOG,
    MINIMAL_FILES,
    MINIMAL_TEMPLATE,
    write_golden_state,
)

CATALOG, TEMPLATE = MINIMAL_CATALOG, MINIMAL_TEMPLATE
OTHER_CATALOG = """\
assets:
  - name: demo-cm
    path: assets/demo/cm.yaml.j2
    order: 6
"""
UNLABELLED_TOMBSTONE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: old
  namespace: somewhere
"""

# case -> (files replacing the valid golden state's, the file:line the error names, words).
CASES: dict[str, tuple[dict[str, str | bytes], str, str]] = {
    "yaml syntax error": ({"catalog/demo.yaml": CATALOG + "  - name: [oops\n"},
                          "catalog/demo.yaml:12", "invalid YAML"),
    "missing template": ({"catalog/demo.yaml": CATALOG.replace("cm.yaml.j2", "gone.yaml.j2")},
                         "catalog/demo.yaml:8", "does not exist"),
    "jinja syntax error": ({"assets/demo/cm.yaml.j2": TEMPLATE.replace("{{ version }}",
                                                                       "{{ version ")},
                           "assets/demo/cm.yaml.j2:7", "template syntax error"),
    "duplicate asset": ({"catalog/other.yaml": OTHER_CATALOG},
                        "catalog/other.yaml:2", "duplicate (first defined at "),
    "tombstone without the ownership label": (
        {"tombstones/old.yaml": UNLABELLED_TOMBSTONE}, "tombstones/old.yaml:1",
        "missing label platform.kubevirt.io/managed-by"),
}


def golden_state(root: Path, files: dict[str, str | bytes]) -> Path:
    """The minimal valid golden state under ``root``, with ``files`` replaced or added."""
    return write_golden_state(root, {**MINIMAL_FILES, **files})


def run(tmp: Path, golden: Path) -> subprocess.CompletedProcess[str]:
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{free_port()}"}}],
        "users": [{"name": "u", "user": {"token": "unused"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    return subprocess.run(
        [sys.executable, "-m", "autopilot", "run", "--kubeconfig", str(kubeconfig),
         "--golden-state", str(golden), "--debug-bind-address", "",
         "--metrics-bind-address", f"127.0.0.1:{free_port()}",
         "--health-probe-bind-address", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=60, cwd=PROJECT, check=False)


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one error line: exit 2, no traceback, the last line of stderr."""
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == errors[0]
    return errors[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_golden_state_names_file_and_line(tmp_path: Path, case: str) -> None:
    files, where, words = CASES[case]
    golden = golden_state(tmp_path / "gs", files)
    line = error_line(run(tmp_path, golden))
    prefix = f"autopilot: error: invalid golden state: {golden}/{where}: "
    assert line.startswith(prefix), line
    assert words in line[len(prefix):], line


def test_catalogue_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    golden = golden_state(tmp_path / "gs", {
        "catalog/demo.yaml": CATALOG.encode().replace(b"Demo", b"D\xffmo")})
    line = error_line(run(tmp_path, golden))
    assert re.fullmatch(
        rf"autopilot: error: invalid golden state: {re.escape(str(golden))}/catalog/demo\.yaml"
        r": not UTF-8 text \(byte \d+\)", line), line


def test_golden_state_path_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "gs"
    path.write_text("not a directory\n")
    line = error_line(run(tmp_path, path))
    assert line == f"autopilot: error: --golden-state: {path} is not a directory", line
