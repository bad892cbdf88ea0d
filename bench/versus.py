"""The reference (Go) operator beside ours, one row per speed target.

The reference operator's binary is not available to the benchmarks, so its
column quotes the figures measured side by side with ours on one fresh real
kube-apiserver v1.36 (every published CRD, an HCO with every opt-in, three
nodes, a quiet 2-core machine), as written in the targets. Our columns come from
the recorded runs, so they change only when a run is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.cold_start import TARGET_RSS_MB, TARGET_S
from bench.drift import MACHINECONFIG_MAX_MS, SERVER_P50_MS
from bench.scale import MAX_RSS_MB

Figure = Callable[[dict[str, Any]], "tuple[str, bool] | None"]


@dataclass(frozen=True)
class Row:
    """One target: what is measured, the reference's figure, the target, and ours."""

    figure: str
    reference: str
    target: str
    bench: str  # which benchmark's results hold our figure
    ours: Figure


def _cold_total(r: dict[str, Any]) -> tuple[str, bool]:
    return f"{r['total_s']} s", r["total_s"] <= TARGET_S


def _cold_rss(r: dict[str, Any]) -> tuple[str, bool] | None:
    if r.get("rss_mb") is None:
        return None
    return f"{r['rss_mb']} MB", r["rss_mb"] <= TARGET_RSS_MB


def _cold_requests(r: dict[str, Any]) -> tuple[str, bool] | None:
    if "requests_but_events" not in r:
        return None
    budget = r["objects"] + r["kinds_watched"]
    return (f"{r['requests_but_events']} for {budget} ({r['objects']} objects + "
            f"{r['kinds_watched']} kinds), events aside", r["requests_but_events"] <= budget)


def _server(kind: str, *, max_ms: float | None) -> Figure:
    def figure(r: dict[str, Any]) -> tuple[str, bool] | None:
        s = (r.get("server_ms") or {}).get(kind)
        if not s:
            return None
        ok = s["p50"] <= SERVER_P50_MS and (max_ms is None or s["max"] <= max_ms)
        return f"p50 {s['p50']} ms, max {s['max']} ms (n={s['n']})", ok
    return figure


def _idle(r: dict[str, Any]) -> tuple[str, bool] | None:
    per_min = r.get("requests_per_min")
    if not per_min:
        return None
    return (f"per minute: {per_min.get('watch')} watch re-opens, {per_min.get('lease')} "
            f"Lease (leader election), {per_min.get('other')} other"), bool(r.get("no_polling"))


def _resync(r: dict[str, Any]) -> tuple[str, bool] | None:
    if "requests_per_pass" not in r:
        return None
    return (f"{r['requests_per_pass']} requests ({r['reads_per_pass']} reads) per pass",
            r["requests_per_pass"] == 0)


def _scale_rss(r: dict[str, Any]) -> tuple[str, bool]:
    rest = r["rest"]["rss_mb"]["max"]
    return f"{rest} MB at rest", rest <= MAX_RSS_MB


ROWS = (
    Row("process start to every object compliant", "3.35 s", f"<= {TARGET_S:g} s", "cold_start",
        _cold_total),
    Row("RSS after converging", "64 MB", f"<= {TARGET_RSS_MB:g} MB", "cold_start", _cold_rss),
    Row("start-up requests", "531", "<= objects + kinds", "cold_start", _cold_requests),
    Row("MachineConfig drift undone, server-side (tamper to our apply)", "p50 147 ms",
        f"p50 <= {SERVER_P50_MS:g} ms, max <= {MACHINECONFIG_MAX_MS:g} ms", "drift",
        _server("MachineConfig", max_ms=MACHINECONFIG_MAX_MS)),
    Row("Service drift undone, server-side", "never (5-minute requeue)",
        f"p50 <= {SERVER_P50_MS:g} ms", "drift", _server("Service", max_ms=None)),
    Row("idle", "0 requests", "watch renewals only (and the leader's Lease)", "idle", _idle),
    Row("a resync pass, nothing changed", "not quoted", "0 requests", "steady", _resync),
    Row("RSS with 5,000 nodes + 20,000 ConfigMaps", "64 MB (caches no nodes)",
        f"<= {MAX_RSS_MB:g} MB", "scale", _scale_rss),
)


def _cell(row: Row, report: dict[str, Any] | None) -> str:
    r = ((report or {}).get("results") or {}).get(row.bench)
    if r is None or "error" in r:
        return "not run"
    found = row.ours(r)
    if found is None:
        return "not recorded"
    text, ok = found
    return f"{'yes' if ok else '**NO**'}: {text}"


def table(reports: dict[str, dict[str, Any] | None], worlds: dict[str, str]) -> list[str]:
    """Markdown lines: figure, the reference's quoted figure, target, then one cell per world."""
    lines = ["| figure | reference operator (quoted) | target | "
             + " | ".join(worlds.values()) + " |",
             "|---|---|---|" + "---|" * len(worlds)]
    for row in ROWS:
        cells = " | ".join(_cell(row, reports.get(w)) for w in worlds)
        lines.append(f"| {row.figure} | {row.reference} | {row.target} | {cells} |")
    return lines
