"""Static checks of the Containerfile (no container engine runs in the test environment)."""

from __future__ import annotations

import fnmatch
import json
import sys
from pathlib import Path

import pytest

from autopilot.golden import locate

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "Containerfile"
IMAGE_PREFIX = "/opt/app-root"  # sys.prefix of the ubi9/python-311 image's virtualenv


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in CONTAINERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        op, _, args = full.partition(" ")
        out.append((op.upper(), args.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    ins = instructions()
    last_from = max(i for i, (op, _) in enumerate(ins) if op == "FROM")
    return ins[last_from:]


def test_base_images_are_ubi9_python311() -> None:
    froms = [args for op, args in instructions() if op == "FROM"]
    assert len(froms) == 2, "multi-stage: build and runtime"
    for args in froms:
        assert args.split()[0].startswith("registry.access.redhat.com/ubi9/python-311")


def test_runtime_runs_non_root_with_autopilot_entrypoint() -> None:
    stage = final_stage()
    users = [args for op, args in stage if op == "USER"]
    assert users, "the runtime stage must set USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric non-root UID (runAsNonRoot needs it)"
    entry = [json.loads(args) for op, args in stage if op == "ENTRYPOINT"]
    cmd = [json.loads(args) for op, args in stage if op == "CMD"]
    assert entry[-1] == ["autopilot"]
    assert cmd[-1] == ["run"]


def test_runtime_checks_curl_and_installs_from_wheels_only() -> None:
    runs = " ".join(args for op, args in final_stage() if op == "RUN")
    assert "command -v curl" in runs, "the runbooks exec curl in the pod"
    assert "--no-index" in runs


def test_golden_state_lands_where_the_installed_package_looks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copies = [args.split() for op, args in final_stage() if op == "COPY"]
    dests = [parts[-1] for parts in copies if parts[-2] == "golden_state"]
    assert len(dests) == 1, "the runtime stage copies golden_state once"
    monkeypatch.setattr(sys, "prefix", IMAGE_PREFIX)
    assert Path(dests[0]) in locate.candidate_dirs()


def test_copy_sources_exist_and_are_not_ignored() -> None:
    ignore = [
        line.strip() for line in (ROOT / ".containerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for op, args in instructions():
        if op != "COPY" or "--from=" in args:
            continue
        sources = [p for p in args.split() if not p.startswith("--")][:-1]
        for src in sources:
            assert (ROOT / src).exists(), f"COPY source {src} missing"
            assert not any(fnmatch.fnmatch(src, pat) for pat in ignore), (
                f"COPY source {src} is excluded by .containerignore"
            )


def test_exposed_ports_match_the_deployment() -> None:
    exposed = {p for op, args in final_stage() if op == "EXPOSE" for p in args.split()}
    assert exposed == {"8080", "8082"}
