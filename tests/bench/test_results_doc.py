"""bench/RESULTS.md's tables come from the recorded runs, one column per world."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import results_doc
from bench.idle import polling_verdict
from bench.stats import histogram_delta, histogram_quantile


def report(world: str, **results: dict[str, Any]) -> dict[str, Any]:
    return {"date": "2026-01-01T00:00:00Z", "mode": "full", "world": world,
            "commit": f"abc-{world}", "total_s": 12.5,
            "machine": {"cores": 2, "memory_gb": 8.0, "python": "3.11.7"},
            "results": results}


IDLE = {"cpu_percent_of_core": 0.1, "context_switches_per_s": 2.0, "no_polling": True,
        "requests_per_min": {"lease": 60.0, "watch": 0.0, "other": 0.0}, "met": True,
        "target": "< 1% of a core, no polling"}


def test_one_row_per_benchmark_with_a_cell_per_world() -> None:
    sim = report("kubesim", idle=IDLE, custom={"met": False, "target": "a new one"})
    real = report("real", idle={**IDLE, "met": False, "no_polling": False})
    text = results_doc.tables({"kubesim": sim, "real": real})
    assert "| kubesim | `abc-kubesim` | 2026-01-01T00:00:00Z | full |" in text
    assert "| real kube-apiserver | `abc-real` |" in text
    idle_row = next(line for line in text.splitlines() if line.startswith("| idle |"))
    sim_cell, real_cell = idle_row.split(" | ")[2:4]
    assert sim_cell.startswith("yes: 0.1 % CPU") and "no polling" in sim_cell
    assert real_cell.startswith("**NO**") and "**polling**" in real_cell
    assert "Python 3.11.7 |" in text  # no speed figure in the report: none printed
    real["machine"]["python_loop_ms"] = 39.8
    assert "Python 3.11.7 (a million additions in 39.8 ms) |" in results_doc.tables(
        {"kubesim": sim, "real": real})
    # A benchmark only one world ran (or one this module has no short form for) still shows.
    custom_row = next(line for line in text.splitlines() if line.startswith("| custom |"))
    assert "a new one" in custom_row and "not run" in custom_row


def test_rewriting_keeps_the_prose_around_the_tables(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results_doc, "RESULTS_DIR", tmp_path / "results")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "kubesim.json").write_text(json.dumps(report("kubesim", idle=IDLE)))
    doc = tmp_path / "RESULTS.md"
    doc.write_text(f"# Title\n\nbefore\n\n{results_doc.BEGIN}\nold table\n{results_doc.END}\n"
                   "\nafter\n")
    results_doc.rewrite_tables(doc)
    text = doc.read_text()
    assert text.startswith("# Title\n\nbefore\n\n" + results_doc.BEGIN + "\n| world |")
    assert text.endswith(results_doc.END + "\n\nafter\n")
    assert "old table" not in text
    assert "| real kube-apiserver | not measured |" in text


def test_the_committed_tables_are_those_of_the_committed_runs() -> None:
    text = results_doc.RESULTS_MD.read_text()
    generated = text.partition(results_doc.BEGIN)[2].partition(results_doc.END)[0].strip()
    recorded = {w: results_doc.load(w) for w in results_doc.WORLDS}
    assert all(recorded.values()), "bench/results/<world>.json missing for a world"
    assert generated == results_doc.tables(recorded), (
        "bench/RESULTS.md is out of step with bench/results/: python -m bench --rewrite-tables")


def test_idle_polling_verdict() -> None:
    lease = {("get", "leases", False): 30, ("update", "leases", False): 30}
    assert polling_verdict(lease, seconds=60, open_watches=30) == (True, [])
    ok, problems = polling_verdict({**lease, ("list", "configmaps", False): 1},
                                   seconds=60, open_watches=30)
    assert not ok and "list configmaps" in problems[0]
    ok, problems = polling_verdict({("watch", "nodes", False): 3},
                                   seconds=60, open_watches=2)
    assert not ok and "watch re-opens" in problems[0]
    ok, problems = polling_verdict({("get", "leases", False): 100},
                                   seconds=60, open_watches=2)
    assert not ok and "Lease" in problems[0]


def test_queue_latency_from_histogram_buckets() -> None:
    before = [(0.01, 10.0), (0.1, 10.0), (1.0, 10.0), (float("inf"), 10.0)]
    after = [(0.01, 60.0), (0.1, 100.0), (1.0, 110.0), (float("inf"), 110.0)]
    window = histogram_delta(after, before)
    assert window == [(0.01, 50.0), (0.1, 90.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(window, 0.5) == pytest.approx(0.01)
    assert histogram_quantile(window, 0.9) == pytest.approx(0.1)
    assert histogram_quantile(window, 0.95) == pytest.approx(0.55)
    assert histogram_quantile([], 0.5) == 0.0


def test_steady_cell_counts_every_request_when_recorded() -> None:
    old = {"writes_per_pass": 0.0, "dry_runs_per_pass": 0.0, "reads_per_pass": 17.0,
           "cpu_s_per_pass": 0.07, "met": True, "target": "0 writes and 0 dry runs per pass"}
    new = {**old, "reads_per_pass": 0.0, "requests_per_pass": 0.0,
           "target": "0 requests per pass (reads included)"}
    text = results_doc.tables({"kubesim": report("kubesim", steady=new),
                               "real": report("real", steady=old)})
    row = next(line for line in text.splitlines() if line.startswith("| steady state |"))
    target, sim_cell, real_cell = row.split(" | ")[1:4]
    assert sim_cell == ("yes: 0.0 requests (0.0 writes, 0.0 dry runs, 0.0 reads, "
                        "0.07 CPU s per pass)")
    # A run recorded before requests were all counted keeps its old cell.
    assert real_cell.startswith("yes: 0.0 writes, 0.0 dry runs, 17.0 reads")
    assert target == "0 requests per pass (reads included)"  # the first world's target


def test_the_speed_targets_sit_beside_the_reference_figures() -> None:
    cold = {"total_s": 0.8, "to_caches_synced_s": 0.5, "rss_mb": 58.4, "requests_but_events": 159,
            "objects": 84, "kinds_watched": 32, "events_created": 84, "met": False}
    drift = {"latency_ms": {"p50": 3.0, "p99": 9.0, "max": 20.0}, "restored": 9, "edits": 9,
             "server_ms": {"MachineConfig": {"p50": 2.9, "max": 16.0, "n": 79},
                           "Service": {"p50": 2.8, "max": 3.1, "n": 9}}}
    sim = report("kubesim", cold_start=cold, drift=drift, idle=IDLE)
    text = results_doc.tables({"kubesim": sim, "real": None})
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")
            for line in text.partition("reference (Go) operator")[2].splitlines()
            if line.startswith("| ") and not line.startswith("| figure")}
    assert rows["process start to every object compliant"][1:4] == [
        "3.35 s", "<= 1.5 s", "yes: 0.8 s"]
    assert rows["RSS after converging"][3] == "**NO**: 58.4 MB"
    assert rows["start-up requests"][3].startswith("**NO**: 159 for 116 (84 objects + 32 kinds)")
    # A maximum over its bound fails the row even when the median is well within.
    assert rows["MachineConfig drift undone, server-side (tamper to our apply)"][3].startswith(
        "**NO**: p50 2.9 ms, max 16.0 ms")
    assert rows["Service drift undone, server-side"][3].startswith("yes: p50 2.8 ms")
    assert rows["idle"][3].startswith("yes: per minute: 0.0 watch re-opens")
    assert rows["a resync pass, nothing changed"][3] == "not run"
    assert rows["RSS with 5,000 nodes + 20,000 ConfigMaps"][4] == "not run |"
