"""``python -m bench``: run the benchmarks against kubesim (or a real API server), print a table.

    python -m bench                 # the design targets (under 10 minutes on 2 cores)
    python -m bench --quick         # shorter runs, same sizes
    python -m bench --smoke         # seconds: each benchmark runs and produces figures
    python -m bench --only drift,steady --out /tmp/r.json
    python -m bench --write-results # full run, recorded: bench/results/<world>.json + RESULTS.md
    python -m bench --rewrite-tables  # RESULTS.md's tables from the recorded JSON, no run

A real kube-apiserver + etcd is used when KUBEBUILDER_ASSETS names a folder
holding both binaries (the world ``real``; otherwise ``kubesim``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import os
import platform
import sys
import time
import timeit
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import cold_start, drift, editwar, idle, results_doc, scale, steady, storm
from bench.crds import MissingSchemas
from bench.env import Env, cluster_source
from bench.modes import FULL, QUICK, SMOKE, Mode
from bench.platform import build_platform
from bench.report import table
from tests.support.cluster import real_assets

BENCHMARKS: dict[str, Callable[[Env, Mode], dict[str, Any]]] = {
    "cold_start": cold_start.run,
    "steady": steady.run,
    "drift": drift.run,
    "idle": idle.run,
    "storm": storm.run,
    "editwar": editwar.run,
    "scale": scale.run,
}
DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"


def machine() -> dict[str, Any]:
    """Cores, memory and Python of this machine."""
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_gb": round(mem_kb / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "python_loop_ms": python_loop_ms()}


def python_loop_ms() -> float:
    """How fast this machine runs plain Python: the best of five loops of a million
    additions, in ms. Figures recorded on different machines compare through it (the
    controller's start is mostly interpreter work: imports, template compilation)."""
    return round(1000 * min(timeit.repeat("for i in range(1_000_000): s += i", "s = 0",
                                          number=1, repeat=5)), 1)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the benchmarks against kubesim (or a real API server when "
                    "KUBEBUILDER_ASSETS is set) and print a table.")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="shorter runs")
    size.add_argument("--smoke", action="store_true", help="seconds; checks only that it runs")
    p.add_argument("--only", default="", help="comma-separated: " + ", ".join(BENCHMARKS))
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON file ({DEFAULT_OUT})")
    record = p.add_mutually_exclusive_group()
    record.add_argument("--write-results", action="store_true",
                        help="full run of every benchmark, recorded in bench/results/<world>.json"
                             " and the tables of bench/RESULTS.md")
    record.add_argument("--rewrite-tables", action="store_true",
                        help="rewrite bench/RESULTS.md's tables from the recorded JSON; no run")
    args = p.parse_args(argv)
    unknown = [n for n in args.only.split(",") if n and n not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(unknown)}")
    if args.write_results and (args.quick or args.smoke or args.only):
        p.error("--write-results records a full run of every benchmark: "
                "drop --quick, --smoke and --only")
    return args


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """This process's cyclic garbage collector held for one benchmark, as ``timeit`` does.

    kubesim runs in a thread of this process: a full collection here (up to 100 ms
    once the run has piled up request records) stalls the API server between an edit
    and its watch event, a pause of the test double, not of the controller, and the
    bench's own clocks stop with it. The controller's collector is left as it is.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def run_all(chosen: list[str], spec: Any, mode: Mode) -> tuple[dict[str, Any], bool]:
    """Run the chosen benchmarks, a fresh API server each; (results, whether one failed)."""
    results: dict[str, Any] = {}
    failed = False
    with cluster_source() as new_env:
        for name in chosen:
            print(f"-- {name} ...", file=sys.stderr, flush=True)
            t0 = time.monotonic()
            load_before = os.getloadavg()[0]
            try:
                with new_env(spec) as env, collector_paused():
                    results[name] = BENCHMARKS[name](env, mode)
                    results[name]["api_server"] = env.mode
            except Exception as exc:
                failed = True
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                traceback.print_exc()
            results[name]["wall_s"] = round(time.monotonic() - t0, 1)
            # Other work on the machine skews every timing: say how busy it was.
            results[name]["load_average"] = [round(load_before, 2),
                                             round(os.getloadavg()[0], 2)]
    return results, failed


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks; exit 1 when one could not run (a missed target is not)."""
    args = parse(argv)
    if args.rewrite_tables:
        results_doc.rewrite_tables()
        print(f"tables rewritten in {results_doc.RESULTS_MD}")
        return 0
    mode = SMOKE if args.smoke else QUICK if args.quick else FULL
    chosen = [n for n in BENCHMARKS if not args.only or n in args.only.split(",")]
    try:
        spec = build_platform()
    except MissingSchemas as exc:
        print(f"python -m bench: {exc}", file=sys.stderr)
        return 2
    world = "kubesim" if real_assets() is None else "real"
    measured_at = results_doc.commit()  # before the run: the code that was measured
    started = time.monotonic()
    results, failed = run_all(chosen, spec, mode)
    report = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "mode": mode.name,
        "world": world,
        "commit": measured_at,
        "crds": len(spec.crds),
        "machine": machine(),
        "total_s": round(time.monotonic() - started, 1),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    print(table(report))
    print(f"\nresults written to {args.out}")
    if args.write_results:
        path = results_doc.record(report, world=world)
        print(f"recorded in {path} and {results_doc.RESULTS_MD}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
