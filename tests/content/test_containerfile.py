"""Static checks of the Containerfile (no container engine runs in the test environment)."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

from autopilot import __version__

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "Containerfile"


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


def build_args() -> dict[str, str]:
    """Default values of the ARG instructions."""
    return dict(
        args.split("=", 1) for op, args in instructions() if op == "ARG" and "=" in args
    )


def test_base_images_are_ubi9_python311_pinned_by_digest() -> None:
    defaults = build_args()
    froms = [args.split()[0] for op, args in instructions() if op == "FROM"]
    assert len(froms) == 2, "multi-stage: build and runtime"
    for ref in froms:
        image = defaults.get(ref[2:-1], ref) if ref.startswith("${") else ref
        name, _, digest = image.partition("@")
        assert name == "registry.access.redhat.com/ubi9/python-311", image
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"{image}: not pinned by digest"


def test_runtime_image_carries_the_certification_labels_and_licenses() -> None:
    stage = final_stage()
    labels = " ".join(args for op, args in stage if op == "LABEL")
    for key in ("name", "vendor", "version", "release", "summary", "description"):
        assert re.search(rf'(^|\s){key}="[^"]+"', labels), f"label {key} missing"
    assert re.search(r'version="\$\{VERSION\}"', labels), "the version label follows VERSION"
    assert ("ARG", f"VERSION={__version__}") in stage, "the default version is the package's"
    copies = [args.split() for op, args in stage if op == "COPY"]
    assert any(c[-2] == "LICENSE" and c[-1].startswith("/licenses/") for c in copies)
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")


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


def test_the_wheel_build_gets_the_golden_state_and_its_build_hook() -> None:
    ins = instructions()
    last_from = max(i for i, (op, _) in enumerate(ins) if op == "FROM")
    build_sources = {
        src for op, args in ins[:last_from] if op == "COPY"
        for src in args.split()[:-1] if not src.startswith("--")
    }
    assert {"setup.py", "MANIFEST.in", "golden_state", "autopilot"} <= build_sources
    # The runtime stage gets the golden state from the wheel, not from a second copy.
    runtime_sources = [args.split()[-2] for op, args in final_stage() if op == "COPY"]
    assert "golden_state" not in runtime_sources


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
