"""The results table printed at the end of a run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _verbs(counts: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"


def _cold(r: dict[str, Any]) -> str:
    return (f"started {r.get('to_starting_s')}s, watches {r.get('to_watches_started_s')}s, "
            f"synced {r['to_caches_synced_s']}s, all {r['objects']} objects applied "
            f"{r['synced_to_all_applied_s']}s later (total {r['total_s']}s); RSS "
            f"{r['rss_mb']} MB; requests: {_verbs(r['requests_by_verb'])}"
            + (f" ({r['requests_but_events']} without the {r['events_created']} events, for "
               f"{r['objects']} objects + {r['kinds_watched']} kinds)"
               if "requests_but_events" in r else ""))


def _steady(r: dict[str, Any]) -> str:
    total = f"{r['requests_per_pass']} requests: " if "requests_per_pass" in r else ""
    return (f"per pass: {total}{r['writes_per_pass']} writes, {r['dry_runs_per_pass']} dry runs, "
            f"{r['reads_per_pass']} reads, {r['cpu_s_per_pass']} CPU s "
            f"({r['passes']} passes, every {r['resync_period_s']}s)")


def server_side(r: dict[str, Any]) -> str:
    """The drift benchmark's server-side figures of the focus kinds ("" before they existed)."""
    server = r.get("server_ms")
    if not server:
        return ""
    mc, svc = server.get("MachineConfig") or {}, server.get("Service") or {}
    split = (r.get("server_split_ms") or {}).get("MachineConfig")
    # Where the record says when the edit was answered: how much was the server's own write.
    of_it = "" if not split else (
        f"; of the MachineConfig figure, the server's own write of the edit p50 "
        f"{split['edit_served']['p50']} ms, then to our apply p50 {split['then_ours']['p50']}"
        f" / max {split['then_ours']['max']} ms" + _slowest(split.get("slowest")))
    return (f"; server-side MachineConfig p50 {mc.get('p50')} / max {mc.get('max')} ms "
            f"(n={mc.get('n')}), Service p50 {svc.get('p50')} / max {svc.get('max')} ms "
            f"(n={svc.get('n')})" + of_it)


def _slowest(slowest: dict[str, Any] | None) -> str:
    if not slowest:
        return ""
    return (f"; the slowest: the server's write {slowest['edit_served']} ms, then ours "
            f"{slowest['then_ours']} ms (edit {slowest['edit']})")


def _drift(r: dict[str, Any]) -> str:
    s = r["latency_ms"]
    return (f"p50 {s['p50']} / p95 {s['p95']} / p99 {s['p99']} / max {s['max']} ms "
            f"({r['restored']}/{r['edits']} restored over {r['objects']} objects)"
            + server_side(r))


def _idle(r: dict[str, Any]) -> str:
    polling = "no polling" if r.get("no_polling") else "POLLING: " + "; ".join(
        r.get("polling_problems") or [])
    return (f"{r['cpu_percent_of_core']}% of a core over {r['seconds']}s"
            f"{' (leader election on)' if r.get('leader_elect') else ''}, "
            f"{r['context_switches_per_s']} ctx switches/s, requests: "
            f"{_verbs(r['requests_by_verb'])}; {polling}")


def _storm(r: dict[str, Any]) -> str:
    t = r["time_to_pause_s"]
    a = r["applies_per_object"]
    return (f"{r['paused']}/{r['objects']} paused, time to pause p50 {t['p50']}s max {t['max']}s;"
            f" applies/object max {a['max']} (edits {r['edit_rate_hz_achieved']}/s each,"
            f" {r['seconds']}s)")


def _editwar(r: dict[str, Any]) -> str:
    parts = []
    for f in r["fights"]:
        rate = f"every {f['edit_every_s']:g}s"
        took = "not paused" if f["time_to_pause_s"] is None else f"{f['time_to_pause_s']}s"
        named = ",".join(f["named"] or []) or "-"
        parts.append(f"{rate}: {took} ({f['edits_before_pause']} edits, "
                     f"{f['flips_counted']} flips, by {f['trigger'] or '-'}, named {named})")
    return "time to pause " + "; ".join(parts)


def _scale(r: dict[str, Any]) -> str:
    rest, churn = r["rest"], r["churn"]
    wait = churn["queue_wait_ms"]
    return (f"{r['nodes']} nodes + {r['configmaps']} ConfigMaps: RSS at rest "
            f"{rest['rss_mb']['max']} MB, churning {churn['rss_mb_start']}->"
            f"{churn['rss_mb_end']} MB (max {churn['rss_mb_max']}); CPU rest "
            f"{rest['cpu_percent_of_core']}%, churn {churn['cpu_percent_of_core']}% "
            f"({churn['writes_per_s']} writes/s, {churn['detection_changes_per_s']} detection "
            f"changes/s, {churn['managed_edits_per_s']} managed edits/s); queue wait p50 "
            f"{wait['p50']} / p99 {wait['p99']} ms, drained {churn['drained_after_s']}s after; "
            f"cold start {r['cold_start_s']}s")


FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "cold_start": _cold, "steady": _steady, "drift": _drift, "idle": _idle,
    "storm": _storm, "editwar": _editwar, "scale": _scale,
}


def table(report: dict[str, Any]) -> str:
    """A plain-text table: benchmark, figures, target, met."""
    rows = [("benchmark", "figures", "target", "met")]
    for name, r in report["results"].items():
        if "error" in r:
            rows.append((name, r["error"][:200], "-", "ERROR"))
            continue
        rows.append((name, FORMATS[name](r), str(r.get("target", "")),
                     "yes" if r.get("met") else "NO"))
    width = [max(len(row[i]) for row in rows) for i in (0, 2, 3)]
    m = report["machine"]
    lines = [f"{report['mode']} run, {report['date']}, {m['cores']} cores, "
             f"Python {m['python']}{loop_speed(m)}, {report['total_s']}s"]
    for name, figures, target, met in rows:
        lines.append(f"{name:<{width[0]}}  {met:<{width[2]}}  {target:<{width[1]}}  {figures}")
    return "\n".join(lines)


def loop_speed(machine: dict[str, Any]) -> str:
    """The machine's plain-Python speed, when the report has it."""
    ms = machine.get("python_loop_ms")
    return "" if ms is None else f" (a million additions in {ms:g} ms)"
