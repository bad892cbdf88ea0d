"""The runbooks tell the truth about this implementation.

Their metric greps run, as real shell pipelines, over our own exposition; their
debug URLs hit our debug app; names, annotations, log messages and event
reasons are the ones the code and manifests use.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from autopilot.cli import build_parser
from autopilot.observability.metrics import TOMBSTONE_SKIPPED, Metrics
from autopilot.web import Served, debug_app, serve
from tests.support import rbac
from tests.support.platform import Platform
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
    "successfully applied",
    "failed to apply",
    "apply throttled",
    "edit war detected, reconciliation paused",
    "dependency missing",
    "tombstone failed",
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


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
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


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
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


# -- the debug URLs, against our debug app -------------------------------------------


class AnswerEverything:
    """A debug provider that knows every asset and object."""

    def render(self, *, asset: str | None, show_excluded: bool,
               only_installed: bool) -> list[dict[str, Any]]:
        return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}]

    def exclusions(self) -> object:
        return []

    def features(self) -> object:
        return {"features": []}

    def tombstones(self) -> object:
        return []

    def explain(self, kind: str, namespace: str, name: str) -> object:
        return {"kind": kind, "namespace": namespace, "name": name}


@pytest.fixture
async def debug_server() -> AsyncIterator[Served]:
    served = await serve(debug_app(AnswerEverything()), "127.0.0.1:0")
    try:
        yield served
    finally:
        await served.close()


async def test_debug_urls_in_runbooks_resolve(debug_server: Served) -> None:
    urls = set(re.findall(r'localhost:8081(/debug/[^\s"\']+)', runbook_text()))
    assert urls, "runbooks mention no debug endpoint"
    subst = {"$KIND": KIND, "${OBJ_NS:-_}": "_", "$NAME": NAME, "<asset>": "swap"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for url in sorted(urls):
            path = url
            for var, value in subst.items():
                path = path.replace(var, value)
            async with session.get(debug_server.url + path) as resp:
                assert resp.status == 200, f"{url} -> {resp.status} {await resp.text()}"


# -- the RBAC checks, with kubectl against the cluster -------------------------------------


def can_i_commands(text: str) -> list[str]:
    """The runbook's ``kubectl auth can-i`` commands, ``<resource>`` meaning ServiceMonitors."""
    return [c.replace("<resource>", "servicemonitors -n openshift-cnv")
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


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
@pytest.mark.parametrize("source", ["ours", "seed"])
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
    trimmed = rbac.shipped_role()
    for verb in ("patch", "update"):
        trimmed = rbac.without(trimmed, group="monitoring.coreos.com",
                               resource="servicemonitors", verb=verb)
    rbac.grant(cluster, trimmed)
    eventually_sync(lambda: run_can_i(cluster, commands, {}) == {"no"},
                    what="every check says no without write verbs on servicemonitors")


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
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
    rbac.grant(cluster, rbac.without(rbac.shipped_role(), group="observability.openshift.io",
                                     resource="uiplugins", verb="delete"))
    eventually_sync(lambda: run_can_i(cluster, commands, env) == {"no"},
                    what="no once delete is missing")
