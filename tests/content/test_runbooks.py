"""The runbooks tell the truth about this implementation.

Their metric greps run, as real shell pipelines, over our own exposition; their
debug commands run against a running controller; names, annotations, log messages and event
reasons are the ones the code and manifests use.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from autopilot.cli import build_parser
from autopilot.golden.catalog import load_golden_state
from autopilot.observability.metrics import TOMBSTONE_SKIPPED, Metrics
from tests.support import rbac
from tests.support.controller import Controller
from tests.support.platform import BASE_KINDS, Platform
from tests.support.wait import eventually_sync

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = sorted((ROOT / "runbooks").glob("*.md"))
SEED = ROOT.parent / "shared" / "seed" / "VirtPlatformSyncFailed.md"
BASH = shutil.which("bash")

EVENT_REASONS = {
    "AssetApplied", "DriftDetected", "DriftCorrected", "PatchApplied", "InvalidPatch",
    "InvalidIgnoreFields", "InvalidDisabledResources", "Throttled", "ThrashingDetected",
    "UnmanagedMode", "CRDMissing", "CRDDiscovered", "ApplyFailed", "RenderFailed",
    "ReconcileSucceeded", "TombstoneDeleted", "TombstoneFailed", "TombstoneSkipped",
}
ANNOTATIONS = {
    "autopilot", "disabled-resources", "openshift", "force-reconcile", "mode", "patch",
    "ignore-fields", "reconcile-paused", "managed-by",
}
# Log messages the runbooks tell people to grep for.
LOG_MESSAGES = [
    "successfully applied", "failed to apply", "owner flip", "apply throttled",
    "edit war detected, reconciliation paused", "dependency missing", "tombstone failed",
    "tombstone skipped",
]

# The object the shell snippets are run against.
KIND, NAME, OBJ_NS = "KubeDescheduler", "cluster", "openshift-kube-descheduler-operator"


def runbook_text() -> str:
    return "\n".join(p.read_text() for p in RUNBOOKS)


def shell_commands(text: str) -> list[str]:
    """Commands in ```bash blocks, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        pending = ""
        for line in block.splitlines():
            stripped = line.strip()
            if not pending and (not stripped or stripped.startswith("#")):
                continue
            if stripped.endswith("\\"):
                pending += stripped[:-1].rstrip() + " "
                continue
            commands.append(pending + stripped)
            pending = ""
    return commands


def test_all_four_runbooks_exist() -> None:
    assert {p.stem for p in RUNBOOKS} >= {
        "VirtPlatformSyncFailed", "VirtPlatformThrashingDetected",
        "VirtPlatformDependencyMissing", "VirtPlatformTombstoneStuck",
    }


def test_metric_names_exist() -> None:
    m = populated_metrics()
    exposed = set(
        re.findall(r"^(?:# TYPE )?(virt_platform_\w+)", m.exposition().decode(), flags=re.M)
    )
    mentioned = set(re.findall(r"virt_platform_\w+", runbook_text()))
    assert mentioned, "runbooks mention no metric"
    assert mentioned <= exposed, f"unknown metrics: {sorted(mentioned - exposed)}"


def test_annotations_are_contract_keys() -> None:
    keys = set(re.findall(r"platform\.kubevirt\.io/([a-z<>-]+)", runbook_text()))
    for key in keys:
        if key.startswith("enable-"):  # the feature switches: enable-<feature>
            continue
        assert key.removesuffix("-") in ANNOTATIONS, key  # `annotate ... key-` removes it


def test_event_reasons_are_contract_reasons() -> None:
    text = runbook_text()
    mentioned = set(re.findall(r"reason=(\w+)", text))
    mentioned |= {w for w in re.findall(r"`(\w+)`", text) if w in EVENT_REASONS or (
        w[:1].isupper() and w.endswith(("Failed", "Skipped", "Deleted", "Detected",
                                         "Missing", "Discovered", "Applied", "Corrected")))}
    mentioned -= {"VirtPlatformSyncFailed", "VirtPlatformThrashingDetected",
                  "VirtPlatformDependencyMissing"}
    assert mentioned <= EVENT_REASONS, f"unknown event reasons: {sorted(mentioned - EVENT_REASONS)}"


def test_log_messages_exist_in_the_code() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "autopilot").rglob("*.py"))
    text = runbook_text()
    for message in LOG_MESSAGES:
        assert message in text, f"runbooks no longer mention {message!r}; update LOG_MESSAGES"
        if message not in source:
            pytest.fail(f"runbooks grep logs for {message!r} but no code logs it")


def test_names_match_the_deployment() -> None:
    text = runbook_text()
    assert set(re.findall(r"deploy/([\w-]+)", text)) == {"virt-platform-autopilot"}
    assert set(re.findall(r"svc/([\w-]+)", text)) == {"virt-platform-autopilot-metrics"}
    assert set(re.findall(r" -l ([\w=./-]+)", text)) == {"app=virt-platform-autopilot"}
    assert set(re.findall(r"oc exec -n ([\w-]+)", text)) == {"openshift-cnv"}
    assert set(re.findall(r"localhost:(\d+)", text)) == {"8080", "8081"}
    assert "virt-platform-autopilot.kubevirt.io" in text  # the leader Lease


def test_explain_command_line_parses() -> None:
    parser = build_parser()
    args = parser.parse_args(["explain", KIND, NAME, "-n", OBJ_NS])
    assert (args.kind, args.name) == (KIND, NAME)
    parser.parse_args(["explain", "MachineConfig", "90-worker-swap"])


# -- the metric pipelines, run for real ---------------------------------------------


def populated_metrics() -> Metrics:
    m = Metrics()
    m.set_compliance(KIND, NAME, OBJ_NS, ok=False)
    m.set_compliance("ConfigMap", "kubevirt-ui-features", "openshift-cnv", ok=True)
    m.set_paused("MachineConfig", "90-worker-swap", "", paused=True)
    m.record_thrashing("MachineConfig", "90-worker-swap", "")
    m.set_customizations("ConfigMap", "kubevirt-ui-features", "openshift-cnv", types=["patch"])
    m.set_missing_dependency("operator.openshift.io", "v1", "KubeDescheduler", missing=True)
    m.set_tombstone_status("ConfigMap", "old", "openshift-cnv", status=TOMBSTONE_SKIPPED)
    m.reconcile_duration_seconds.labels(KIND, NAME, OBJ_NS).observe(0.02)
    m.api_requests_total.labels("PATCH", "422").inc()
    m.api_requests_total.labels("GET", "200").inc()
    m.set_leader(True)
    return m


CURL_METRICS = re.compile(
    r'^oc exec -n openshift-cnv (?:deploy/virt-platform-autopilot|"\$LEADER") -- '
    r"curl -s localhost:8080/metrics( \|.*)$"
)


def metric_pipelines(text: str) -> list[str]:
    return [m.group(1) for c in shell_commands(text) if (m := CURL_METRICS.match(c))]


def run_pipeline(pipeline: str, exposition: Path) -> subprocess.CompletedProcess[str]:
    assert BASH is not None
    script = f'KIND={KIND}; NAME={NAME}; OBJ_NS={OBJ_NS}\ncat "$1"{pipeline}\n'
    return subprocess.run(
        [BASH, "-c", script, "runbook", str(exposition)],
        capture_output=True, text=True, timeout=30, check=False,
    )


@pytest.mark.needs_tool("bash")
@pytest.mark.parametrize("source", ["ours", "seed"])
def test_metric_pipelines_run_over_our_exposition(tmp_path: Path, source: str) -> None:
    if source == "seed":
        if not SEED.is_file():
            pytest.skip(f"seed runbook not available ({SEED})")
        text = SEED.read_text().replace("<kind>", KIND).replace("<name>", NAME)
    else:
        text = runbook_text()
    expo = tmp_path / "metrics.txt"
    expo.write_bytes(populated_metrics().exposition())
    pipelines = metric_pipelines(text)
    assert len(pipelines) >= 5, "expected the runbooks' metric greps"
    for pipeline in pipelines:
        proc = run_pipeline(pipeline, expo)
        assert proc.returncode in (0, 1) and proc.stderr == "", (pipeline, proc.stderr)
        if "'} 0$'" in pipeline and "compliance_status" in pipeline:
            assert proc.stdout.splitlines() == [
                f'virt_platform_compliance_status{{kind="{KIND}",name="{NAME}",'
                f'namespace="{OBJ_NS}"}} 0'
            ], pipeline
        elif "'} 1$'" not in pipeline and "grep -v" not in pipeline:
            assert proc.stdout.strip(), f"{pipeline!r} found nothing"


@pytest.mark.needs_tool("bash")
def test_verify_greps_flip_when_the_object_recovers(tmp_path: Path) -> None:
    expo = tmp_path / "metrics.txt"
    m = populated_metrics()
    verify = ' | grep "virt_platform_compliance_status.*$KIND.*$NAME" | grep \'} 1$\''
    failing = ' | grep "virt_platform_compliance_status" | grep \'} 0$\''
    expo.write_bytes(m.exposition())
    assert run_pipeline(verify, expo).stdout == ""
    m.set_compliance(KIND, NAME, OBJ_NS, ok=True)
    expo.write_bytes(m.exposition())
    assert run_pipeline(verify, expo).stdout.strip().endswith("} 1")
    assert run_pipeline(failing, expo).stdout == ""


# -- the debug URLs, against a running controller --------------------------------------

# The runbook commands exec curl in the pod; here they run on this machine, against a
# controller whose debug endpoint listens on a free port.
EXEC = "oc exec -n openshift-cnv deploy/virt-platform-autopilot -- "


def debug_commands(text: str) -> list[str]:
    """The runbooks' ``curl ... localhost:8081/debug/...`` commands, without the exec."""
    return [c.removeprefix(EXEC) for c in shell_commands(text)
            if "localhost:8081/debug/" in c and c.startswith(EXEC)]


@pytest.fixture
def running(cluster: Any) -> Iterator[tuple[Controller, Platform]]:
    """A controller converged on a small platform whose UIPlugin CRD is missing."""
    platform = Platform(cluster)
    platform.install(*(k for k in BASE_KINDS if k != "UIPlugin"))
    platform.ensure_namespace(OBJ_NS)
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    rbac.grant(cluster)
    c = Controller(kubeconfig=rbac.service_account_kubeconfig(cluster))
    try:
        c.start()
        c.wait_ready()
        for kind in (KIND, "MachineConfig"):
            eventually_sync(lambda k=kind: [v for ls, v in c.series(
                "virt_platform_compliance_status").items() if dict(ls)["kind"] == k and v == 1],
                timeout=30, what=f"a {kind} applied and compliant")
        yield c, platform
    finally:
        c.stop()


def run_debug(c: Controller, command: str, env: dict[str, str], cwd: Path) -> str:
    """Run one runbook command with bash (its own quoting and ${...:-_} expansion)."""
    assert BASH is not None
    command = command.replace("localhost:8081", f"127.0.0.1:{c.debug_port}")
    proc = subprocess.run([BASH, "-c", "set -o pipefail; " + command.replace(
        "curl -s ", "curl -sS --fail-with-body ")], capture_output=True, text=True, timeout=30,
        check=False, cwd=cwd, env={**os.environ, **env})
    assert proc.returncode == 0, (command, proc.stderr, proc.stdout)
    return proc.stdout


def applied(c: Controller, kind: str) -> dict[str, Any]:
    """The first ``successfully applied`` log line of a kind (names the asset)."""
    return next(line for line in c.log_lines("successfully applied") if line["kind"] == kind)


@pytest.mark.needs_tool("bash", "curl")
@pytest.mark.fresh_server("a controller writing the golden state's fixed names")
def test_debug_commands_in_runbooks_answer_what_they_promise(
        running: tuple[Controller, Platform], tmp_path: Path) -> None:
    c, _ = running
    commands = debug_commands(runbook_text())
    paths = {re.sub(r"^.*localhost:8081(/debug/[^\s\"']+).*$", r"\1", cmd) for cmd in commands}
    assert paths == {"/debug/explain/$KIND/${OBJ_NS:-_}/$NAME", "/debug/features",
                     "/debug/render/<asset>", "/debug/tombstones"}, paths
    yaml = YAML(typ="safe", pure=True)
    swap_mc = applied(c, "MachineConfig")
    for command in sorted(set(commands)):
        if "/debug/explain/" in command:
            # Namespaced and cluster-scoped (OBJ_NS empty: "_"), as the runbook says.
            for kind, name, ns in ((KIND, NAME, OBJ_NS), ("MachineConfig", swap_mc["name"], "")):
                state = yaml.load(run_debug(c, command, {"KIND": kind, "NAME": name,
                                                         "OBJ_NS": ns}, tmp_path))
                assert (state["kind"], state["name"], state["namespace"]) == (kind, name, ns)
                assert state["asset"] == applied(c, kind)["asset"], state
                assert state["compliance"] == 1 and state["lastError"] == "", state
        elif "/debug/render/" in command:
            line = applied(c, KIND)
            out = run_debug(c, command.replace("<asset>", line["asset"]), {}, tmp_path)
            if "> desired.yaml" in command:
                out = (tmp_path / "desired.yaml").read_text()
            [desired] = [d for d in yaml.load_all(out) if d]
            assert (desired["kind"], desired["metadata"]["name"],
                    desired["metadata"]["namespace"]) == (KIND, NAME, OBJ_NS), desired
        elif command.endswith("/debug/features"):
            assets = {a["name"]: a for a in yaml.load(run_debug(c, command, {}, tmp_path))[
                "assets"]}
            assert assets[applied(c, KIND)["asset"]]["included"] is True
            # The missing CRD the runbook sends people here for.
            [missing] = [a for a in assets.values() if a["missingDependencies"]]
            assert missing["missingDependencies"] == [
                {"group": "observability.openshift.io", "version": "v1alpha1",
                 "kind": "UIPlugin"}], missing
        elif command.endswith("/debug/tombstones"):
            golden = load_golden_state(ROOT / "golden_state")
            listed = yaml.load(run_debug(c, command, {}, tmp_path))
            assert {(t["kind"], t["name"]) for t in listed} == {
                (t.kind, t.name) for t in golden.tombstones}
            eventually_sync(lambda cmd=command: all(t["status"] is not None for t in yaml.load(
                run_debug(c, cmd, {}, tmp_path))), what="every tombstone swept")
        else:
            raise AssertionError(f"a debug command this test does not know: {command}")


@pytest.mark.fresh_server("a controller writing the golden state's fixed names")
def test_debug_endpoints_say_no_to_what_does_not_exist(
        running: tuple[Controller, Platform]) -> None:
    """Not an endpoint that answers 200 to everything: unknown things are 404."""
    c, _ = running
    for path in (f"/debug/explain/{KIND}/_/{NAME}",  # namespaced object asked cluster-wide
                 f"/debug/explain/{KIND}/{OBJ_NS}/not-managed",
                 "/debug/render/swap"):  # a group, not an asset: the runbook names assets
        status, text = c.http(c.debug_port, path)
        assert status == 404, (path, status, text)


# -- the RBAC checks, with kubectl against the cluster -------------------------------------


def can_i_commands(text: str) -> list[str]:
    """The runbook's ``kubectl auth can-i`` commands, ``<resource>`` meaning our ServiceMonitor.

    Writes are granted on the golden state's names only, so the object is named, as the
    runbook tells the SRE to.
    """
    return [c.replace("<resource>",
                      "servicemonitors/virt-platform-autopilot-metrics -n openshift-cnv")
            for c in shell_commands(text) if c.startswith("kubectl auth can-i ")]


def run_can_i(cluster: Any, commands: list[str], env: dict[str, str]) -> set[str]:
    """What each command prints, run by bash against ``cluster``."""
    assert BASH is not None
    answers = set()
    for command in commands:
        proc = subprocess.run([BASH, "-c", command], capture_output=True, text=True,
                              timeout=60, check=False,
                              env={**os.environ, **env, "KUBECONFIG": str(cluster.kubeconfig),
                                   "KUBECACHEDIR": str(cluster.workdir / "kube-cache")})
        answers.add(proc.stdout.strip() or proc.stderr.strip())
    return answers


# These grant the controller's cluster-wide role, then take permissions away again.
CHANGES_RBAC = pytest.mark.fresh_server("changes the controller's cluster-wide RBAC")


@pytest.mark.needs_tool("bash")
@pytest.mark.parametrize("source", ["ours", "seed"])
@CHANGES_RBAC
def test_write_checks_say_yes_on_a_healthy_install_and_no_when_denied(
        cluster: Any, source: str) -> None:
    if source == "seed" and not SEED.is_file():
        pytest.skip(f"seed runbook not available ({SEED})")
    text = SEED.read_text() if source == "seed" else (ROOT / "runbooks" /
                                                     "VirtPlatformSyncFailed.md").read_text()
    commands = can_i_commands(text)
    assert commands, "the runbook has no `kubectl auth can-i` check"
    Platform(cluster).install("ServiceMonitor")
    rbac.grant(cluster)
    eventually_sync(lambda: run_can_i(cluster, commands, {}) == {"yes"},
                    what="every check says yes with the shipped ClusterRole")
    def trimmed(role: dict[str, Any]) -> dict[str, Any]:
        for verb in ("patch", "update"):
            role = rbac.without(role, group="monitoring.coreos.com",
                                resource="servicemonitors", verb=verb)
        return role
    rbac.grant(cluster, edit=trimmed)
    eventually_sync(lambda: run_can_i(cluster, commands, {}) == {"no"},
                    what="every check says no without write verbs on servicemonitors")


@pytest.mark.needs_tool("bash")
@CHANGES_RBAC
def test_tombstone_delete_check_names_the_object(cluster: Any) -> None:
    text = (ROOT / "runbooks" / "VirtPlatformTombstoneStuck.md").read_text()
    commands = can_i_commands(text)
    assert commands, "the runbook has no `kubectl auth can-i` check"
    Platform(cluster).install("UIPlugin")
    env = {"KIND": "UIPlugin", "NAME": "kubevirt-plugin", "OBJ_NS": ""}
    rbac.grant(cluster)
    eventually_sync(lambda: run_can_i(cluster, commands, env) == {"yes"},
                    what="the tombstone's delete allowed by the shipped ClusterRole")
    assert run_can_i(cluster, commands, {**env, "NAME": "not-a-tombstone"}) == {"no"}
    rbac.grant(cluster, edit=lambda role: rbac.without(
        role, group="observability.openshift.io", resource="uiplugins", verb="delete"))
    eventually_sync(lambda: run_can_i(cluster, commands, env) == {"no"},
                    what="no once delete is missing")
