"""The drift benchmark's server-side clock: each edit paired with the controller's apply."""

from __future__ import annotations

from bench.client import USER_AGENT
from bench.drift import Edit, applies_of, figures, plan_edits, server_latencies, write_split
from bench.env import CONTROLLER_UA
from bench.modes import SMOKE
from bench.objects import Target
from bench.report import server_side
from kubesim.controls import LoggedRequest

MC = Target("MachineConfig", "99-a", "", "machineconfiguration.openshift.io/v1",
            "/apis/machineconfiguration.openshift.io/v1/machineconfigs/99-a",
            "/apis/machineconfiguration.openshift.io/v1/machineconfigs", "/spec/x", "v")
SVC = Target("Service", "m", "ns", "v1", "/api/v1/namespaces/ns/services/m",
             "/api/v1/services", "/spec/selector/app", "v")
CM = Target("ConfigMap", "c", "ns", "v1", "/api/v1/namespaces/ns/configmaps/c",
            "/api/v1/configmaps", "/data/a", "v")


def req(at: float, who: str, resource: str, name: str, *, ns: str = "",
        dry: bool = False, served_at: float | None = None) -> LoggedRequest:
    return LoggedRequest(at=at, verb="patch", resource=resource, namespace=ns, name=name,
                         user_agent=f"{who}/1.0", dry_run=dry, served_at=served_at)


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
    got = server_latencies(applies_of(log, edits))
    assert [round(x * 1000, 3) if x is not None else None for x in got] == [5.0, 4.0, None]
    result = figures(edits, got, objects=2, rejected=0, measured_by="test")
    assert result["server_ms"]["MachineConfig"]["n"] == 1
    assert result["server_ms"]["Service"]["p50"] == 4.0
    assert result["unrestored"] == ["MachineConfig/99-a"] and not result["met"]


def test_even_a_short_run_edits_each_focus_kind_first() -> None:
    order = plan_edits([CM, MC, SVC], SMOKE)
    assert [t.kind for t in order[:3]] == ["MachineConfig", "Service", "ConfigMap"]
    assert len(order) == SMOKE.drift_edits


def test_the_server_side_figure_splits_where_the_record_says_when_the_edit_was_answered(
        ) -> None:
    """A real server's audit log says when it answered the edit: what was its own write
    and what came after (the watch event, the controller, the apply's way in)."""
    bench, ctl = USER_AGENT.partition("/")[0], CONTROLLER_UA
    log = [req(10.000, bench, "machineconfigs", "99-a", served_at=10.006),
           req(10.009, ctl, "machineconfigs", "99-a"),
           req(11.000, bench, "services", "m", ns="ns"),  # kubesim's record: no answer time
           req(11.004, ctl, "services", "m", ns="ns")]
    edits = [Edit(MC, 9.999, 0.01), Edit(SVC, 10.999, 0.01)]
    split = write_split(applies_of(log, edits))
    assert [None if p is None else tuple(round(x * 1000, 3) for x in p) for p in split] == [
        (6.0, 3.0), None]
    result = figures(edits, server_latencies(applies_of(log, edits)), objects=2, rejected=0,
                     measured_by="test", split=split)
    mc = result["server_split_ms"]["MachineConfig"]
    assert (mc["edit_served"]["p50"], mc["then_ours"]["p50"]) == (6.0, 3.0)
    assert result["server_split_ms"]["Service"]["edit_served"]["n"] == 0
    assert mc["slowest"] == {"edit": 0, "edit_served": 6.0, "then_ours": 3.0}
    assert "server's own write of the edit p50 6.0 ms, then to our apply p50 3.0" in (
        server_side(result))
    assert "the slowest: the server's write 6.0 ms, then ours 3.0 ms (edit 0)" in (
        server_side(result))
    # Without answer times (kubesim) nothing is split, and nothing said of it.
    plain = figures(edits, server_latencies(applies_of(log, edits)), objects=2, rejected=0,
                    measured_by="test", split=[None, None])
    assert "server_split_ms" not in plain and "own write" not in server_side(plain)
