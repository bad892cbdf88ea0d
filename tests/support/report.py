"""What ran against a real API server, for the end of a real-mode run.

The ``cluster`` fixture says which tests it served (on the shared server or a fresh
one) and which real servers it had to start for them; the test reports say how each
ended. CI prints the tally so a skipped test cannot pass unnoticed.

Under pytest-xdist the fixtures run in worker processes and only the reports reach
the controller, which prints the summary; so what a fixture learns travels in the
test item's ``user_properties`` (copied into every report of the test, and sent
across by xdist), never in this module's globals alone.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

SERVED = "real-server"  # user property: "shared" or "fresh"
STARTED = "real-server-started"  # user property, once per server started for the test

_served: dict[str, str] = {}
_outcomes: dict[str, str] = {}
_skips: dict[str, str] = {}
_started: dict[str, Counter[str]] = {}
# Servers this process started since a test was last told about them (fixture set-up
# runs one test at a time per process, so they belong to the test being set up).
_pending = Counter[str]()


def server_started(*, shared: bool) -> None:
    """One more real server was started, for the test being set up in this process."""
    _pending["shared" if shared else "fresh"] += 1


def served(node: Any, how: str) -> None:
    """The ``cluster`` fixture gave ``node`` a real server (``shared`` or ``fresh``)."""
    node.user_properties.append((SERVED, how))
    for kind, n in _pending.items():
        node.user_properties.extend([(STARTED, kind)] * n)
    _pending.clear()


def record(report: Any) -> None:
    """Note how a test ended (called for each phase's report, in the controller too)."""
    properties = list(getattr(report, "user_properties", ()) or ())
    for name, value in properties:
        if name == SERVED:
            _served[report.nodeid] = str(value)
    # Each phase's report carries all properties so far: set, do not add.
    started = Counter(str(value) for name, value in properties if name == STARTED)
    if started:
        _started[report.nodeid] = started
    if report.skipped:
        _outcomes[report.nodeid] = "skipped"
        _skips[report.nodeid] = _skip_reason(report.longrepr)
    elif report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.when == "call":
        _outcomes.setdefault(report.nodeid, "passed")


def _skip_reason(longrepr: Any) -> str:
    # A skip's longrepr is (path, line, reason); xdist may hand it over as a list.
    reason = longrepr[2] if isinstance(longrepr, tuple | list) else str(longrepr)
    return str(reason).removeprefix("Skipped: ")


def summary() -> list[str]:
    """Lines for the terminal: tests against the real server, and every skip with its reason."""
    ran = [n for n in _served if _outcomes.get(n) in ("passed", "failed")]
    ends = Counter(_outcomes[n] for n in ran)
    where = Counter(_served[n] for n in ran)
    started = sum(_started.values(), Counter[str]())
    lines = [
        "== real kube-apiserver: "
        f"{len(ran)} tests ran against it ({ends['passed']} passed, {ends['failed']} failed; "
        f"{where['shared']} on the shared server, {where['fresh']} on fresh servers; "
        f"servers started: {started['shared']} shared, {started['fresh']} fresh)",
        f"== real kube-apiserver: {len(_skips)} tests skipped"
        + (":" if _skips else ""),
    ]
    for reason, n in Counter(_skips.values()).most_common():
        lines.append(f"   {n} x {reason}")
    return lines
