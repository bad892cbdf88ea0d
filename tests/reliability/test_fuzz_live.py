"""Fuzzed user input on a running controller, and malformed golden-state directories.

One controller process takes many examples: hypothesis writes `patch`,
`ignore-fields` and arbitrary label/annotation values onto the live metrics
Service, and `autopilot` / `disabled-resources` values onto the HCO. After
each example the worker is alive (/healthz 200, process running), every value
the engine refuses has its log line naming the object, and a valid neighbour
(the ServiceMonitor) still gets its drift corrected.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from autopilot.engine import overrides
from autopilot.engine.customize import customize
from autopilot.golden.catalog import load_golden_state
from autopilot.golden.gate import parse_activation
from autopilot.golden.locate import resolve_golden_state_dir
from tests.integration.conftest import Paths, render_offline
from tests.reliability.chaos import Target, get_pointer, merge_patch_for, targets_from
from tests.reliability.conftest import StartController
from tests.support.controller import PROJECT, Controller, free_port
from tests.support.platform import HCO_NS, HCO_PATH, Platform
from tests.support.wait import eventually_sync

ON = {"platform.kubevirt.io/autopilot": "true"}
SVC_NAME = "virt-platform-autopilot-metrics"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/{SVC_NAME}"
SM = f"/apis/monitoring.coreos.com/v1/namespaces/{HCO_NS}/servicemonitors/{SVC_NAME}"
FUZZ_KEY = "fuzz.example.com/value"
NEIGHBOUR_KINDS = ("ServiceMonitor", "PrometheusRule", "KubeDescheduler", "PersesDashboard",
                   "MachineConfig")

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
BIG = st.builds(lambda ch, n: ch * n, st.characters(exclude_categories=("Cs",)),
                st.integers(0, 100_000))
POINTERS = st.one_of(
    st.sampled_from([
        "/metadata/labels/tier", "/metadata/name", "/metadata/namespace", "/metadata/name/",
        "/metadata/managedFields", "/apiVersion", "/kind", "/status", "/metadata~1name",
        "/metadata/../metadata/name", "/metadata/./name", "//metadata/name", "/spec/selector/app",
        "/spec/ports/0/port", "/spec/ports/-", "/spec/ports/99", "", "/", "metadata/name",
        "/metadata/labels/a~1b", "/a~2", "/spec/type",
    ]),
    TEXT,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
OPS = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
     "path": POINTERS},
    optional={"value": JSON_VALUES, "from": POINTERS},
)
PATCHES = st.one_of(TEXT, st.lists(OPS, max_size=4).map(json.dumps),
                    JSON_VALUES.map(json.dumps))
IGNORES = st.lists(POINTERS, max_size=5).map(",".join)
EXCLUSION = st.dictionaries(st.sampled_from(["kind", "name", "namespace", "extra"]),
                            st.one_of(TEXT, st.sampled_from(["*", "Service", "[", "?*"]),
                                      st.integers()), max_size=3)
DISABLED = st.one_of(TEXT, st.lists(EXCLUSION, max_size=3).map(json.dumps),
                     st.sampled_from(["- kind: Service\n  name: '*'", "{a: [", "- [1, 2]"]))
AUTOPILOT = st.one_of(
    st.sampled_from(["true", " TRUE ", "false", "", "observability", "no-such-asset",
                     "autopilot-servicemonitor,bogus", ",,,", "observability, nope"]),
    TEXT,
)


class Session:
    """What the examples share: the cluster, the controller and what was reported."""

    def __init__(self, platform: Platform, c: Controller) -> None:
        self.platform = platform
        self.c = c
        self.rendered = {(o["kind"], o["metadata"]["name"]): o for o in render_offline(ON)}
        self.neighbours = self._neighbours(platform)
        golden = load_golden_state(resolve_golden_state_dir(None))
        self.known = {a.name for a in golden.assets} | set(golden.groups())
        self.sm_asset = next(a for a in golden.assets if a.name == "autopilot-servicemonitor")
        self.last: dict[str, str | None] = {}
        self.round = 0
        self.rejected_labels = 0
        self.seen: dict[str, int] = {}

    def _neighbours(self, platform: Platform) -> list[tuple[tuple[str, str], Target]]:
        """Objects other than the Service, each with a field the golden state owns."""
        paths = Paths(platform.cluster)
        out = []
        for key, obj in sorted(self.rendered.items()):
            if key[0] not in NEIGHBOUR_KINDS:
                continue
            live = platform.get(paths.of(obj))
            if live is not None:
                out.extend((key, t) for t in targets_from({paths.of(obj): live}))
        assert len(out) >= 3, out
        return out

    def count(self, event: str, **fields: str) -> int:
        return len(self.c.log_lines(event, **fields))

    def alive(self) -> None:
        assert self.c.proc is not None and self.c.proc.poll() is None, self.c.log_text()[-2000:]
        status, text = self.c.http(self.c.health_port, "/healthz")
        assert status == 200, text

    def write_service(self, annotations: dict[str, str], label: str) -> None:
        body = {"metadata": {"annotations": annotations,
                             "labels": {"fuzz.example.com/label": label}}}
        status, _ = self.platform.cluster.api(
            "PATCH", SVC, body=body, content_type="application/merge-patch+json")
        if status == 422:  # the server refuses the label value; the annotations still go
            self.rejected_labels += 1
            body["metadata"].pop("labels")
            status, _ = self.platform.cluster.api(
                "PATCH", SVC, body=body, content_type="application/merge-patch+json")
        assert status == 200, status

    def expect_once(self, what: str, text: str, event: str, **fields: str) -> None:
        """A log line for a refused value (logged again only when the value changes)."""
        before = self.last.get(what)
        self.last[what] = text
        if before == text:
            return
        try:
            eventually_sync(lambda: self.count(event, **fields) > self.seen[what], timeout=20,
                            what=f"{event!r} for {what} value {text[:60]!r}")
        except AssertionError:
            for line in self.c.logs():
                if line.get("name") == SVC_NAME and line.get("kind") == "Service":
                    print(json.dumps(line)[:400])
            raise


@pytest.mark.timeout(300)
def test_fuzzed_annotations_on_a_live_controller(platform: Platform,
                                                 controller: StartController) -> None:
    platform.create_hco(ON)
    c = controller(resync="30s")
    platform.wait_for(SM, what="ServiceMonitor applied")
    s = Session(platform, c)

    @settings(max_examples=int(os.environ.get("AUTOPILOT_FUZZ_EXAMPLES", "40")), deadline=None,
              database=None,
              suppress_health_check=list(HealthCheck))
    @given(patch=PATCHES, ignore=IGNORES, value=st.one_of(TEXT, BIG), label=TEXT,
           autopilot=AUTOPILOT, disabled=DISABLED)
    def example(patch: str, ignore: str, value: str, label: str, autopilot: str,
                disabled: str) -> None:
        s.round += 1
        s.seen = {
            "patch": s.count("invalid patch annotation", name=SVC_NAME),
            "ignore": s.count("invalid ignore-fields annotation", name=SVC_NAME),
            "disabled": s.count("invalid disabled-resources annotation; ignoring it"),
            "unknown": s.count("autopilot allowlist names unknown assets"),
            "idle": s.count("autopilot idle"),
        }
        s.write_service({overrides.PATCH: patch, overrides.IGNORE_FIELDS: ignore,
                         FUZZ_KEY: value}, label)
        platform.annotate_hco({overrides.AUTOPILOT: autopilot,
                               overrides.DISABLED_RESOURCES: disabled})
        gate = parse_activation(autopilot, known=s.known)
        if gate.idle:
            s.expect_once("idle", "idle", "autopilot idle")
        elif gate.unknown:
            s.expect_once("unknown", ",".join(gate.unknown),
                          "autopilot allowlist names unknown assets")
        s.alive()

        platform.annotate_hco({overrides.AUTOPILOT: "true"})
        s.last.pop("idle", None)  # active again: the next idle value is logged anew
        try:
            exclusions = overrides.parse_disabled_resources(disabled)
        except overrides.ExclusionError:
            exclusions = []
            s.expect_once("disabled", disabled,
                          "invalid disabled-resources annotation; ignoring it")
        service = s.rendered[("Service", SVC_NAME)]
        if not overrides.is_excluded(service, exclusions):
            out = customize(service, {"metadata": {"annotations": {
                overrides.PATCH: patch, overrides.IGNORE_FIELDS: ignore}}}, kind="Service")
            if out.patch_error:
                s.expect_once("patch", patch, "invalid patch annotation", name=SVC_NAME)
            if out.invalid_pointers:
                s.expect_once("ignore", ignore, "invalid ignore-fields annotation",
                              name=SVC_NAME)
        # A valid neighbour still applies (rotating, so no object runs out of apply tokens).
        key, t = s.neighbours[s.round % len(s.neighbours)]
        excluded = overrides.is_excluded(s.rendered[key], exclusions)
        if not excluded:
            platform.patch(t.path, merge_patch_for(t.pointer, t.meddled[0]))
            platform.wait_for(t.path, lambda o: get_pointer(o, t.pointer) == t.golden,
                              what=f"neighbour {t.path} corrected")
        s.alive()

    example()
    print("fuzz summary:", json.dumps({
        "examples": s.round, "labels refused by the server": s.rejected_labels,
        "invalid patch lines": s.count("invalid patch annotation", name=SVC_NAME),
        "invalid ignore-fields lines": s.count("invalid ignore-fields annotation",
                                               name=SVC_NAME),
        "invalid disabled-resources lines": s.count(
            "invalid disabled-resources annotation; ignoring it"),
        "unknown allowlist lines": s.count("autopilot allowlist names unknown assets"),
        "failed to apply lines": s.count("failed to apply", name=SVC_NAME),
        "applies of the Service": s.count("successfully applied", name=SVC_NAME),
    }))
    assert s.round >= 1
    assert "Traceback" not in c.log_text()
    platform.annotate_hco({overrides.DISABLED_RESOURCES: None})
    status, _ = platform.cluster.api("GET", HCO_PATH)
    assert status == 200
    assert c.stop() == 0


# -- malformed golden-state directories ------------------------------------------------------

GOLDEN = PROJECT / "golden_state"


def _broken(tmp: Path, name: str) -> Path:
    gs = tmp / name
    shutil.copytree(GOLDEN, gs)
    yaml = YAML(typ="safe", pure=True)
    catalog = sorted((gs / "catalog").glob("*.yaml"))[0]
    asset_file = next((gs / "assets").rglob("*.j2"))
    tombstone = next((gs / "tombstones").glob("*.yaml"), None)
    if name == "yaml-syntax":
        catalog.write_text(catalog.read_text() + "\n  - {broken: [\n")
    elif name == "missing-template":
        asset_file.unlink()
    elif name == "jinja-syntax":
        asset_file.write_text("{% if %}\n" + asset_file.read_text())
    elif name == "duplicate-asset":
        doc = yaml.load(catalog.read_text())
        doc["assets"].append(dict(doc["assets"][0]))
        catalog.write_text(json.dumps(doc))
    elif name == "unlabelled-tombstone" and tombstone is not None:
        tombstone.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, "
                             "namespace: default}\n")
    elif name == "not-a-directory":
        shutil.rmtree(gs)
        gs.write_text("not a directory")
    elif name == "binary-catalog":
        catalog.write_bytes(b"\xff\xfe\x00garbage\x00")
    return gs


@pytest.mark.parametrize("name", [
    "yaml-syntax", "missing-template", "jinja-syntax", "duplicate-asset", "unlabelled-tombstone",
    "not-a-directory",
    "binary-catalog",
])
def test_run_with_malformed_golden_state_is_one_line_exit_2(
    name: str, tmp_path: Path, cluster: Any
) -> None:
    gs = _broken(tmp_path, name)
    proc = subprocess.run(
        [sys.executable, "-m", "autopilot", "run", "--kubeconfig", str(cluster.kubeconfig),
         "--golden-state", str(gs), "--log-format", "json",
         "--metrics-bind-address", f"127.0.0.1:{free_port()}",
         "--health-probe-bind-address", f"127.0.0.1:{free_port()}",
         "--debug-bind-address", ""],
        capture_output=True, text=True, timeout=60, cwd=PROJECT,
    )
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr + proc.stdout
    # Start-up logs are JSON lines; the user error is the one line that is not.
    lines = [line for line in proc.stderr.splitlines()
             if line.strip() and not line.startswith("{")]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("autopilot: error: "), lines[0]
    assert "golden" in lines[0].lower() or str(gs.name) in lines[0], lines[0]
