"""The drift benchmark's server-side clock: each edit paired with the controller's apply."""

from __future__ import annotations

from bench.client import USER_AGENT
from bench.drift import Edit, figures, plan_edits, server_latencies
from bench.env import CONTROLLER_UA
from bench.modes import SMOKE
from bench.objects import Target
from kubesim.controls import LoggedRequest

MC = Target("MachineConfig", "99-a", "", "machineconfiguration.openshift.io/v1",
            "/apis/machineconfiguration.openshift.io/v1/machineconfigs/99-a",
            "/apis/machineconfiguration.openshift.io/v1/machineconfigs", "/spec/x", "v")
SVC = Target("Service", "m", "ns", "v1", "/api/v1/namespaces/ns/services/m",
             "/api/v1/services", "/spec/selector/app", "v")
CM = Target("ConfigMap", "c", "ns", "v1", "/api/v1/namespaces/ns/configmaps/c",
            "/api/v1/configmaps", "/data/a", "v")


def req(at: float, who: str, resource: str, name: str, *, ns: str = "",
        dry: bool = False) -> LoggedRequest:
    return LoggedRequest(at=at, verb="patch", resource=resource, namespace=ns, name=name,
                         user_agent=f"{who}/1.0", dry_run=dry)


def test_each_edit_is_paired_with_the_next_apply_of_that_object() -> None:
    bench, ctl = USER_AGENT.partition("/")[0], CONTROLLER_UA
    log = [
        req(10.000, bench, "machineconfigs", "99-a"),
        req(10.002, ctl, "services", "m", ns="ns"),  # another object: not this edit's apply
        req(10.003, ctl, "machineconfigs", "99-a", dry=True),  # a dry run is not the apply
        req(10.005, ctl, "machineconfigs", "99-a"),
        req(11.000, bench, "services", "m", ns="ns"),
        req(11.004, ctl, "services", "m", ns="ns"),
        req(12.000, bench, "machineconfigs", "99-a"),  # never applied
    ]
    edits = [Edit(MC, 9.999, 0.01), Edit(SVC, 10.999, 0.01), Edit(MC, 11.999, None)]
    got = server_latencies(log, edits)
    assert [round(x * 1000, 3) if x is not None else None for x in got] == [5.0, 4.0, None]
    result = figures(edits, got, objects=2, rejected=0, measured_by="test")
    assert result["server_ms"]["MachineConfig"]["n"] == 1
    assert result["server_ms"]["Service"]["p50"] == 4.0
    assert result["unrestored"] == ["MachineConfig/99-a"] and not result["met"]


def test_even_a_short_run_edits_each_focus_kind_first() -> None:
    order = plan_edits([CM, MC, SVC], SMOKE)
    assert [t.kind for t in order[:3]] == ["MachineConfig", "Service", "ConfigMap"]
    assert len(order) == SMOKE.drift_edits
