"""kubectl makes the same requests, with the same answers, as against a real server.

``kubectl-requests.txt`` lists what kubectl v1.32 sent to a real kube-apiserver
for the runbook's commands, from an empty discovery cache; this runs the same
commands (``-v=8``) and compares method, path, status and response Content-Type.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.support.cluster import FIXTURES, Cluster, require_shared

pytestmark = pytest.mark.real_ok

Request = tuple[str, str, int, str]
_SENT = re.compile(r"round_trippers\.go:\d+\] (GET|POST|PUT|PATCH|DELETE) (\S+)$")
_STATUS = re.compile(r"Response Status: (\d+)")
_CTYPE = re.compile(r"^\s+Content-Type: (.+)$")


def _recorded() -> list[tuple[str, list[Request]]]:
    commands: list[tuple[str, list[Request]]] = []
    method = path = ""
    status = 0
    after_status = False
    for line in (FIXTURES / "kubectl-requests.txt").read_text().splitlines():
        if line.startswith("### kubectl "):
            commands.append((line[len("### kubectl "):], []))
        elif m := re.match(r"^(GET|POST|PUT|PATCH|DELETE) (\S+)$", line):
            method, path, after_status = m.group(1), m.group(2).split("?")[0], False
        elif m := re.match(r"^\s+-> (\d+)$", line):
            status, after_status = int(m.group(1)), True
        elif (m := _CTYPE.match(line)) and after_status:
            commands[-1][1].append((method, path, status, m.group(1).strip()))
            after_status = False
    return commands


def _observed(log: str, base: str) -> list[Request]:
    out: list[Request] = []
    method = path = ""
    status = 0
    for line in log.splitlines():
        if m := _SENT.search(line):
            method, path = m.group(1), m.group(2).removeprefix(base).split("?")[0]
        elif m := _STATUS.search(line):
            status = int(m.group(1))
        elif (m := _CTYPE.search(line.split("]", 1)[-1])) and status:
            out.append((method, path, status, m.group(1).strip()))
            status = 0
    return out


def test_kubectl_sends_what_it_sends_to_a_real_server(cluster: Cluster, tmp_path: Path) -> None:
    require_shared()
    status, body = cluster.api(
        "PATCH", "/api/v1/namespaces/fixtures", content_type="application/apply-patch+yaml",
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fixtures"}},
        query={"fieldManager": "autopilot-tests", "force": "true"})
    assert status in (200, 201), body
    manifest = tmp_path / "cm-apply.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kubectl-demo\n"
                        "  namespace: fixtures\ndata:\n  a: '1'\n")
    for command, want in _recorded():
        args = [manifest.as_posix() if a == "/tmp/cm-apply.yaml" else a
                for a in command.split()]
        cache = tmp_path / f"cache-{uuid.uuid4().hex[:6]}"
        proc = cluster.kubectl(*args, "-v=8", "--cache-dir", str(cache), check=False)
        got = _observed(proc.stderr, cluster.url)
        assert got == want, f"kubectl {command}:\n{proc.stderr[-2000:]}"
