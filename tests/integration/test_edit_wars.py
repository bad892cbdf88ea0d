"""Edit wars at any speed (contract §6 and the pause policy in README.md).

Another writer reverts a field the Golden State sets, at the pace of a real
fight (another operator's resync, a GitOps tool, a cron job), through a merge
patch, a forced server-side apply or the installed ``kubectl patch``. The
object is paused within one window, and the pause names the other writer. A
single edit, or edits a window apart, are corrected and never paused.

The 60-second fight takes about five minutes and is marked ``slow``: the
default run leaves it out; ``pytest -m slow tests/integration/test_edit_wars.py``
runs it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

from tests.integration.conftest import render_offline
from tests.support.controller import PROJECT
from tests.support.passes import passes_over
from tests.support.platform import HCO_NS, Platform, annotations_of
from tests.support.rival import APPLY, KUBECTL, Rival
from tests.support.wait import eventually_sync

ON = {"platform.kubevirt.io/autopilot": "true"}
SVC_NAME = "virt-platform-autopilot-metrics"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/{SVC_NAME}"
GOLDEN_APP = "virt-platform-autopilot"
PAUSED = "platform.kubevirt.io/reconcile-paused"
PAUSE_LOG = "edit war detected, reconciliation paused"
SERVICE = {"kind": "Service", "name": SVC_NAME, "namespace": HCO_NS}


def selector(n: int) -> dict[str, Any]:
    return {"spec": {"selector": {"app": f"rival-{n}"}}}


def applied_selector(n: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": SVC_NAME, "namespace": HCO_NS}, **selector(n)}


def selector_app(platform: Platform) -> str | None:
    obj = platform.get(SVC) or {}
    return ((obj.get("spec") or {}).get("selector") or {}).get("app")


def is_paused(platform: Platform, path: str = SVC) -> bool:
    return annotations_of(platform.get(path) or {}).get(PAUSED) == "true"


def start(platform: Platform, controller: Any, *extra: str) -> Any:
    platform.create_hco(ON)
    c = controller(*extra)
    platform.wait_for(SVC, lambda o: selector_app(platform) == GOLDEN_APP, what="Service applied")
    return c


def wait_paused(platform: Platform, rival: Rival, *, within: float, path: str = SVC) -> float:
    """Seconds from the rival's first write to the pause annotation (fails after ``within``)."""
    eventually_sync(lambda: is_paused(platform, path), timeout=within, interval=0.1,
                    what=f"pause annotation within {within:.0f} s of a fight every {rival.every} s")
    return time.monotonic() - rival.started


def assert_paused_once_naming(platform: Platform, c: Any, *, who: str, fields: str,
                              ref: dict[str, str] = SERVICE, event_ns: str = HCO_NS) -> str:
    """Annotation, metrics, one event and one log line, each naming ``who``; returns the note."""
    eventually_sync(lambda: c.metric("virt_platform_paused_resources", **ref) == 1,
                    what="paused_resources 1")
    assert c.metric("virt_platform_thrashing_total", **ref) == 1
    events = eventually_sync(
        lambda: platform.events(name=ref["name"], namespace=event_ns, reason="ThrashingDetected"),
        what="ThrashingDetected event")
    assert len(events) == 1 and (events[0].get("series") or {}).get("count", 1) == 1
    note = str(events[0]["note"])
    assert events[0]["type"] == "Warning"
    assert who in note and fields in note, note
    assert PAUSED in note and "unmanaged" in note, note
    lines = c.log_lines(PAUSE_LOG, name=ref["name"])
    assert len(lines) == 1, lines
    assert any(who in w for w in lines[0]["other_writers"]), lines[0]
    return note


def explain(cluster: Any, c: Any, *args: str) -> str:
    """`autopilot explain` as an SRE runs it, with the controller's debug view."""
    proc = subprocess.run(
        [sys.executable, "-m", "autopilot", "explain", *args, "--kubeconfig",
         str(cluster.kubeconfig), "--debug-address", f"127.0.0.1:{c.debug_port}"],
        cwd=PROJECT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


@pytest.mark.timeout(120)
def test_a_fight_every_half_second_is_paused_within_20_s(platform: Platform,
                                                          controller: Any) -> None:
    c = start(platform, controller)
    with Rival(platform.cluster, SVC, selector, every=0.5, manager="rival-operator") as rival:
        wait_paused(platform, rival, within=20)
    assert_paused_once_naming(platform, c, who="rival-operator (Update)", fields="spec.selector")
    assert c.log_lines(PAUSE_LOG, name=SVC_NAME)[0]["other_managers"] == ["rival-operator"]
    # The runbooks' "who is fighting" step, with the installed kubectl.
    out = platform.cluster.kubectl("get", "events", "-n", HCO_NS, "--field-selector",
                                   f"involvedObject.name={SVC_NAME}").stdout
    assert "ThrashingDetected" in out and "rival-operator (Update) over spec.selector" in out, out


@pytest.mark.timeout(240)
def test_a_fight_every_ten_seconds_is_paused_within_two_minutes(platform: Platform,
                                                                controller: Any) -> None:
    c = start(platform, controller)
    with Rival(platform.cluster, SVC, selector, every=10, manager="gitops-sync") as rival:
        wait_paused(platform, rival, within=120)
    note = assert_paused_once_naming(platform, c, who="gitops-sync (Update)",
                                     fields="spec.selector")
    assert "5 owner flips" in note
    # One flip per edit: paused at the fifth, however the passes fell (resyncs included).
    assert len(rival.sent) == 5
    assert [f["flips"] for f in c.log_lines("owner flip", name=SVC_NAME)] == [1, 2, 3, 4, 5]
    # Far slower than the token bucket: nothing was ever throttled.
    assert not c.log_lines("apply throttled", name=SVC_NAME)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_fight_every_minute_is_paused_within_ten_minutes(platform: Platform,
                                                           controller: Any) -> None:
    c = start(platform, controller)
    with Rival(platform.cluster, SVC, selector, every=60, manager="nightly-job") as rival:
        wait_paused(platform, rival, within=600)
    assert_paused_once_naming(platform, c, who="nightly-job (Update)", fields="spec.selector")
    assert len(rival.sent) == 5
    assert [f["flips"] for f in c.log_lines("owner flip", name=SVC_NAME)] == [1, 2, 3, 4, 5]


@pytest.mark.timeout(120)
def test_a_forced_apply_by_another_manager_is_paused_and_named(platform: Platform,
                                                               controller: Any) -> None:
    c = start(platform, controller)
    with Rival(platform.cluster, SVC, applied_selector, every=1.0, how=APPLY,
               manager="argocd-controller") as rival:
        wait_paused(platform, rival, within=30)
    assert not rival.failed, rival.failed
    assert_paused_once_naming(platform, c, who="argocd-controller (Apply) over spec.selector",
                              fields="spec.selector")
    # explain names the writer from the paused object's managedFields and the event.
    report = explain(platform.cluster, c, "Service", SVC_NAME, "-n", HCO_NS)
    assert "state:           paused (edit war)" in report, report
    assert "other writer:    argocd-controller (Apply) over spec.selector" in report, report
    assert "edit war:        5 of 5 owner flips in the last 10 min" in report, report
    assert "ThrashingDetected  edit war with argocd-controller (Apply)" in report, report


@pytest.mark.timeout(180)
def test_kubectl_patch_is_paused_and_named(platform: Platform, controller: Any) -> None:
    # A cluster-scoped object, as in the report: kubectl patch of a MachineConfig's
    # ignition version. Its events live in "default".
    mc = next(o for o in render_offline(ON) if o["kind"] == "MachineConfig")
    name = mc["metadata"]["name"]
    path = f"/apis/machineconfiguration.openshift.io/v1/machineconfigs/{name}"
    c = start(platform, controller)
    version = mc["spec"]["config"]["ignition"]["version"]
    platform.wait_for(path, what=f"MachineConfig {name}")

    def revert(n: int) -> dict[str, Any]:
        return {"spec": {"config": {"ignition": {"version": f"2.{n % 2}.0"}}}}

    with Rival(platform.cluster, path, revert, every=1.0, how=KUBECTL,
               kubectl_target=("machineconfig", name)) as rival:
        wait_paused(platform, rival, within=60, path=path)
    assert not rival.failed, rival.failed
    note = assert_paused_once_naming(
        platform, c, who="kubectl-patch (Update)", fields="spec.config",
        ref={"kind": "MachineConfig", "name": name, "namespace": ""}, event_ns="default")
    assert "ignition" in note, note
    live = platform.get(path) or {}
    assert live["spec"]["config"]["ignition"]["version"] != version  # left to the other writer


@pytest.mark.timeout(120)
def test_one_edit_is_corrected_and_never_paused(platform: Platform, controller: Any) -> None:
    c = start(platform, controller)
    platform.patch(SVC, selector(1))
    eventually_sync(lambda: selector_app(platform) == GOLDEN_APP, what="edit corrected")
    flips = eventually_sync(lambda: c.log_lines("owner flip", name=SVC_NAME), what="flip logged")
    assert [f["flips"] for f in flips] == [1]
    assert any("spec.selector" in w for w in flips[0]["other_writers"])
    assert not is_paused(platform)
    assert c.metric("virt_platform_thrashing_total", **SERVICE) is None
    assert not platform.events(name=SVC_NAME, namespace=HCO_NS, reason="ThrashingDetected")


@pytest.mark.timeout(120)
def test_a_correction_seen_on_the_server_finds_its_flip_logged(platform: Platform,
                                                              controller: Any,
                                                              faults: Any) -> None:
    # The controller hears back from its apply a second after everyone else sees it
    # (a busy machine): the flip it counted is in the log all the same, as each
    # correction becomes visible. The edits are updates, so only our applies wait.
    c = start(platform, controller)
    faults.delay_answers(1.0, verb="patch", resource="services")
    for n in range(1, 4):
        live = platform.get(SVC) or {}
        for key in ("managedFields", "resourceVersion"):
            live["metadata"].pop(key, None)
        live["spec"]["selector"]["app"] = f"rival-{n}"
        status, body = platform.cluster.api("PUT", SVC, body=live)
        assert status == 200, (status, body)
        eventually_sync(lambda: selector_app(platform) == GOLDEN_APP, what=f"edit {n} corrected")
        flips = [f["flips"] for f in c.log_lines("owner flip", name=SVC_NAME)]
        assert flips == list(range(1, n + 1)), flips


@pytest.mark.timeout(180)
def test_edits_a_window_apart_are_each_corrected_and_never_paused(platform: Platform,
                                                                 controller: Any) -> None:
    # "Edits 11 minutes apart" with the window shortened to 4 s: 4.4 s apart.
    c = start(platform, controller, "--edit-war-window", "4s")
    begin = time.monotonic()
    for n in range(1, 8):
        due = begin + (n - 1) * 4.4
        time.sleep(max(0.0, due - time.monotonic()))  # the test's own edit schedule
        platform.patch(SVC, selector(n))
        eventually_sync(lambda: selector_app(platform) == GOLDEN_APP, what=f"edit {n} corrected")
    counts = [f["flips"] for f in c.log_lines("owner flip", name=SVC_NAME)]
    assert len(counts) == 7 and max(counts) <= 2, counts
    assert not is_paused(platform)
    assert c.metric("virt_platform_thrashing_total", **SERVICE) is None
    # The short window still catches a real fight.
    with Rival(platform.cluster, SVC, selector, every=0.3) as rival:
        wait_paused(platform, rival, within=20)


@pytest.mark.timeout(180)
def test_resume_starts_a_fresh_window_and_the_episode_counts_once(platform: Platform,
                                                                  controller: Any) -> None:
    c = start(platform, controller)
    with Rival(platform.cluster, SVC, selector, every=0.5) as rival:
        wait_paused(platform, rival, within=20)
        applies = c.log_lines("successfully applied", name=SVC_NAME)
        asset = applies[-1]["asset"]
        passes = passes_over(c, asset)
        sent = len(rival.sent)
        # Passes run only when something changed: two more passes over the Service's
        # asset mean at least one began after a rival write it had to look at.
        eventually_sync(lambda: len(rival.sent) >= sent + 6
                        and passes_over(c, asset) >= passes + 2,
                        timeout=30, what="the rival's writes while paused reach the controller")
    # Its writes trigger passes, but a paused object is neither written nor counted again.
    assert len(c.log_lines("successfully applied", name=SVC_NAME)) == len(applies)
    assert_paused_once_naming(platform, c, who="rival-operator", fields="spec.selector")

    platform.patch(SVC, {"metadata": {"annotations": {PAUSED: None}}})
    eventually_sync(lambda: selector_app(platform) == GOLDEN_APP, what="restored after resume")
    eventually_sync(lambda: c.metric("virt_platform_paused_resources", **SERVICE) is None,
                    what="paused_resources gone")
    eventually_sync(lambda: len(c.log_lines("successfully applied", name=SVC_NAME))
                    == len(applies) + 1,
                    what="one apply on resume")
    # The restore after the resume took the field back once (flip 1 of a fresh window);
    # three more edits make four: below five, so no new pause.
    for n in range(100, 103):
        platform.patch(SVC, selector(n))
        eventually_sync(lambda: selector_app(platform) == GOLDEN_APP, what=f"edit {n} corrected")
    flips_after = [f["flips"] for f in c.log_lines("owner flip", name=SVC_NAME)][-4:]
    assert flips_after == [1, 2, 3, 4], flips_after
    assert not is_paused(platform)
    assert c.metric("virt_platform_thrashing_total", **SERVICE) == 1
    assert len(eventually_sync(lambda: platform.events(name=SVC_NAME, namespace=HCO_NS,
                                                       reason="ThrashingDetected"),
                               what="ThrashingDetected")) == 1


@pytest.mark.timeout(180)
def test_a_restart_mid_fight_still_pauses_within_one_window(platform: Platform,
                                                            controller: Any) -> None:
    c = start(platform, controller)
    with Rival(platform.cluster, SVC, selector, every=2.0):
        eventually_sync(lambda: len(c.log_lines("owner flip", name=SVC_NAME)) >= 2,
                        timeout=30, what="two flips before the restart")
        c.kill()  # the evidence so far is lost with the process
        assert not is_paused(platform)
        c2 = controller()
        eventually_sync(lambda: is_paused(platform), timeout=60, interval=0.1,
                        what="paused by the restarted controller")
    assert_paused_once_naming(platform, c2, who="rival-operator", fields="spec.selector")
    assert [f["flips"] for f in c2.log_lines("owner flip", name=SVC_NAME)] == [1, 2, 3, 4, 5]

