"""What ran against a real API server, for the end of a real-mode run.

The ``cluster`` fixture says which tests it served (on the shared server or a fresh
one); the test reports say how each ended. CI prints the tally so a skipped test
cannot pass unnoticed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

_served: dict[str, str] = {}
_outcomes: dict[str, str] = {}
_skips: dict[str, str] = {}
_started = Counter[str]()


def served(nodeid: str, how: str) -> None:
    """The ``cluster`` fixture gave ``nodeid`` a real server (``shared`` or ``fresh``)."""
    _served[nodeid] = how


def server_started(*, shared: bool) -> None:
    """One more real server was started."""
    _started["shared" if shared else "fresh"] += 1


def record(report: Any) -> None:
    """Note how a test ended (called for each phase's report)."""
    if report.skipped:
        _outcomes[report.nodeid] = "skipped"
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _skips[report.nodeid] = reason.removeprefix("Skipped: ")
    elif report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.when == "call":
        _outcomes.setdefault(report.nodeid, "passed")


def summary() -> list[str]:
    """Lines for the terminal: tests against the real server, and every skip with its reason."""
    ran = [n for n in _served if _outcomes.get(n) in ("passed", "failed")]
    ends = Counter(_outcomes[n] for n in ran)
    where = Counter(_served[n] for n in ran)
    lines = [
        "== real kube-apiserver: "
        f"{len(ran)} tests ran against it ({ends['passed']} passed, {ends['failed']} failed; "
        f"{where['shared']} on the shared server, {where['fresh']} on fresh servers; "
        f"servers started: {_started['shared']} shared, {_started['fresh']} fresh)",
        f"== real kube-apiserver: {len(_skips)} tests skipped"
        + (":" if _skips else ""),
    ]
    for reason, n in Counter(_skips.values()).most_common():
        lines.append(f"   {n} x {reason}")
    return lines
