"""The benchmarks keep running: ``python -m bench --smoke`` produces figures for each one.

Speed is not asserted here (that is what ``python -m bench`` and bench/RESULTS.md
are for); only that every benchmark runs to the end and reports its figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
BENCHMARKS = ("cold_start", "steady", "drift", "idle", "storm", "editwar", "scale")


@pytest.mark.timeout(90)
def test_every_benchmark_runs_and_reports_figures(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=PROJECT, capture_output=True, text=True, timeout=85, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:] + proc.stdout[-2000:]
    report = json.loads(out.read_text())
    assert report["mode"] == "smoke"
    assert report["machine"]["cores"]
    results = report["results"]
    assert sorted(results) == sorted(BENCHMARKS)
    for name, r in results.items():
        assert "error" not in r, (name, r)
        assert isinstance(r["met"], bool), name
    assert results["cold_start"]["objects"] > 0
    assert results["cold_start"]["requests_by_verb"]
    assert results["drift"]["restored"] == results["drift"]["edits"]
    assert results["steady"]["passes"] >= 1
    assert results["idle"]["cpu_percent_of_core"] >= 0
    assert results["storm"]["objects"] > 0
    assert [f["edit_every_s"] for f in results["editwar"]["fights"]] == [1.0]
    assert results["scale"]["rest"]["rss_mb"]["n"] > 0
    # The table names every benchmark.
    for name in BENCHMARKS:
        assert name in proc.stdout
