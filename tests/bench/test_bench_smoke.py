"""The benchmarks keep running: ``python -m bench --smoke`` produces sane figures for each one.

Speed is not asserted here (that is what ``python -m bench`` and bench/RESULTS.md
are for). What is asserted: every benchmark runs to the end; its figures are
consistent with each other and within physical bounds (a CPU share of a core
between 0 and the machine's cores, latencies ordered p50 <= p95 <= p99 <= max,
per-pass counts matching the request counts they were derived from); and each
``met`` verdict is the target's own text evaluated on those figures, so a
benchmark that reports a target it never checked is caught.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[2]
BENCHMARKS = ("cold_start", "steady", "drift", "idle", "storm", "editwar", "scale")
WRITES = ("create", "update", "patch", "delete", "deletecollection", "post", "put")
# Requests a converged, idle leader may make: reading and renewing its Lease.
LEASE_VERBS = {"get", "update", "put"}
Result = dict[str, Any]


def rss_plausible(mb: float) -> bool:
    """A Python controller's resident size: more than the interpreter, less than a GB."""
    return 10 < mb < 1000


def ordered(latency: dict[str, float]) -> bool:
    return 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]


# -- each benchmark: sanity of its figures, and its target evaluated independently ----------


def cold_start(r: Result, cores: int) -> bool:
    assert r["objects"] > 0
    assert 0 < r["to_caches_synced_s"] <= r["total_s"]
    parts = r["to_caches_synced_s"] + r["synced_to_all_applied_s"]
    assert abs(r["total_s"] - parts) < 0.01, r
    assert sum(r["requests_by_verb"].values()) >= r["objects"], r["requests_by_verb"]
    assert r["cpu_s"] > 0 and rss_plausible(r["rss_mb"]), r
    # The figures the budget is made of, from the request counts themselves.
    counts = r["requests_by_verb"]
    assert r["events_created"] <= counts.get("create", 0), r
    assert r["requests_but_events"] == sum(counts.values()) - r["events_created"], r
    assert 0 < r["kinds_watched"] <= counts.get("watch", 0), r
    # The target's own quantities: process start to every object applied, the resident
    # size, and the requests (events aside) against one per object plus one per kind.
    return bool(r["total_s"] <= 1.5 and r["rss_mb"] <= 55
                and r["requests_but_events"] <= r["objects"] + r["kinds_watched"])


def steady(r: Result, cores: int) -> bool:
    counts, passes = r["requests_by_verb"], r["passes"]
    writes = sum(counts.get(v, 0) for v in WRITES)
    assert r["writes_per_pass"] == round(writes / passes, 2), r
    assert r["dry_runs_per_pass"] == round(counts.get("dry-run", 0) / passes, 2), r
    reads = counts.get("get", 0) + counts.get("list", 0)
    assert r["reads_per_pass"] == round(reads / passes, 2), r
    assert r["requests_per_pass"] == round(sum(counts.values()) / passes, 2), r
    # The window held a resync pass: it cost CPU (every asset was rendered again).
    assert r["cpu_s_per_pass"] is not None and r["cpu_s_per_pass"] > 0, r
    # The target's own quantity: no request at all, reads included.
    return bool(r["requests_per_pass"] == 0)


def drift(r: Result, cores: int) -> bool:
    latency = r["latency_ms"]
    assert r["objects"] > 0 and r["edits"] > 0
    assert latency["n"] == r["restored"] <= r["edits"], r
    if r["restored"]:
        assert ordered(latency), latency
    server = r["server_ms"]
    # Every restore was an apply the server saw; the focus kinds are part of every run.
    assert server["all"]["n"] >= r["restored"], r
    for kind in ("MachineConfig", "Service"):
        assert 0 < server[kind]["n"] <= server["all"]["n"], (kind, server)
        assert ordered(server[kind]), (kind, server)
        # The server sees the edit after the client sends it and the apply before the
        # client's watch sees the restore: server-side is the shorter span.
        assert server[kind]["p50"] <= r["client_ms_by_kind"][kind]["p50"], (kind, r)
    mc, svc = server["MachineConfig"], server["Service"]
    return bool(r["restored"] and not r["unrestored"] and latency["p50"] <= 30
                and latency["p99"] <= 100 and mc["p50"] <= 8 and mc["max"] <= 15
                and svc["p50"] <= 8)


def idle(r: Result, cores: int) -> bool:
    assert r["seconds"] > 0 and rss_plausible(r["rss_mb"]), r
    pct = r["cpu_percent_of_core"]
    assert 0 <= pct <= 100 * cores, r
    assert abs(r["cpu_s"] - pct / 100 * r["seconds"]) <= 0.01 + 0.05 * r["cpu_s"], r
    # The target's own quantities: the CPU share, no request but Lease renewals (a get
    # and an update per 2 s) and watch re-opens (each watch at most once per 300 s), and
    # the wake-ups (context switches, which a loaded machine can push over the bound).
    verbs, seconds = r["requests_by_verb"], r["seconds"]
    lease = sum(n for v, n in verbs.items() if v in LEASE_VERBS)
    no_polling = (set(verbs) <= LEASE_VERBS | {"watch"} and r["requests_per_min"]["other"] == 0
                  and lease <= 2 * (math.floor(seconds / 2) + 1)
                  and verbs.get("watch", 0) <= r["open_watches"] * math.ceil(seconds / 300))
    return bool(pct < 1 and no_polling and r["context_switches_per_s"] <= 10)


def storm(r: Result, cores: int) -> bool:
    assert r["objects"] > 0 and r["edit_rate_hz_achieved"] > 0, r
    assert 0 <= r["paused"] <= r["objects"], r
    assert r["time_to_pause_s"]["n"] == r["paused"], r
    applies = r["applies_per_object"]
    assert applies["max"] >= applies["mean"] >= 0, applies
    return bool(r["paused"] == r["objects"] and not r["over_budget"])


def scale(r: Result, cores: int) -> bool:
    rest, churn = r["rest"], r["churn"]
    assert r["nodes"] > 0 and r["configmaps"] > 0
    assert rest["rss_mb"]["n"] > 0 and rest["rss_mb"]["p50"] <= rest["rss_mb"]["max"], rest
    churn_rss = (churn["rss_mb_start"], churn["rss_mb_end"], churn["rss_mb_max"])
    assert all(rss_plausible(x) for x in (*churn_rss, rest["rss_mb"]["max"])), r
    assert churn["rss_mb_max"] >= max(churn["rss_mb_start"], churn["rss_mb_end"]), churn
    assert r["peak_rss_mb_hwm"] >= max(churn_rss) - 0.1, r
    assert churn["writes_per_s"] > 0, churn
    for share in (rest["cpu_percent_of_core"], churn["cpu_percent_of_core"]):
        assert 0 <= share <= 100 * cores, r
    peak = max(rest["rss_mb"]["max"], churn["rss_mb_max"])
    # Every part of the target: memory, the queue drained after the churn (which a loaded
    # machine can delay), and the managed edits undone.
    return bool(peak <= 70 and churn["rss_mb_end"] - churn["rss_mb_start"] <= 5
                and churn["drained_after_s"] <= 10 and not churn["managed"]["not_restored"])


# The time-to-pause bounds by edit period (seconds).
PAUSE_BOUNDS = {1.0: 20.0, 10.0: 120.0, 60.0: 600.0}


def editwar(r: Result, cores: int) -> bool:
    assert r["fights"], r
    met = True
    for f in r["fights"]:
        assert f["edit_every_s"] in PAUSE_BOUNDS and f["edits_before_pause"] >= 1, f
        # Each edit is at most one flip; a pause needs at least one counted flip or throttle.
        assert 0 <= f["flips_counted"] <= f["edits_before_pause"], f
        took = f["time_to_pause_s"]
        if took is not None:
            assert 0 < took <= f["edits_before_pause"] * f["edit_every_s"] + 5, f
        met = met and took is not None and took <= PAUSE_BOUNDS[f["edit_every_s"]] \
            and bool(f["named"])
    return met


CHECKS: dict[str, Callable[[Result, int], bool]] = {
    "cold_start": cold_start, "steady": steady, "drift": drift, "idle": idle, "storm": storm,
    "editwar": editwar, "scale": scale,
}


def run_in_own_group(argv: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; on timeout kill its whole process group, API servers included.

    Killing only the benchmark process would leave the etcd and kube-apiserver it
    started running after the test failed.
    """
    child = subprocess.Popen(argv, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        stdout, stderr = child.communicate()
        pytest.fail(f"python -m bench --smoke ran over {timeout:.0f} s:\n{stderr[-4000:]}")
    return subprocess.CompletedProcess(argv, child.returncode, stdout, stderr)


# Against kubesim by default; in CI's real stage (KUBEBUILDER_ASSETS set) each benchmark
# starts a real API server of its own. One test per benchmark: each gets the whole
# timeout to itself, and parallel workers share them out instead of one worker running
# all seven in a row (about 1.5 minutes together on a quiet machine).
@pytest.mark.apiserver
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_runs_with_sane_figures_and_evaluated_targets(tmp_path: Path,
                                                                      name: str) -> None:
    out = tmp_path / "results.json"
    proc = run_in_own_group(
        [sys.executable, "-m", "bench", "--smoke", "--only", name, "--out", str(out)],
        timeout=290)
    assert proc.returncode == 0, proc.stderr[-4000:] + proc.stdout[-2000:]
    report = json.loads(out.read_text())
    cores = int(report["machine"]["cores"])
    assert cores >= 1
    results = report["results"]
    assert sorted(results) == [name]
    r = results[name]
    table = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert "error" not in r, (name, r)
    assert r["target"] and isinstance(r["met"], bool), name
    assert r["met"] == CHECKS[name](r, cores), (
        f"{name}: reports met={r['met']} for {r['target']!r}, the figures say otherwise: {r}")
    # The printed table says the same.
    assert name in table and table[name].split()[1] == ("yes" if r["met"] else "NO"), table
    if name == "drift":
        # Behaviour the smoke run shows regardless of speed: every drift edit is restored.
        assert r["restored"] == r["edits"]
    if name == "editwar":
        # The smoke run fights at one pace only, the fastest, and that fight ends in a
        # pause naming the writer: an edit war that never paused is a failure whatever
        # `met` says.
        fights = r["fights"]
        assert [f["edit_every_s"] for f in fights] == [1.0]
        assert all(f["time_to_pause_s"] is not None and f["named"] for f in fights), fights
