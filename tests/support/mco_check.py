"""The Machine Config Operator's own checks (``../shared/mco-check/run``), for tests.

``run FILE...`` decodes every MachineConfig and KubeletConfig with the MCO's own code,
validates it as the MCO's controllers do, and says what each node of the pool does
when it is applied. Its output is one line per object, then a total::

    ok   MachineConfig/99-worker-x: pool worker: on apply each node does reboot
    ok   KubeletConfig/y: kubelet-config controller accepts it (...); each node reboots
    FAIL MachineConfig/z: <reason>
    11 checked, 1 failed

Exit status 0 when all pass, 1 when any failed, 2 on bad usage. :func:`mco_check`
runs it on objects and returns one :class:`McoVerdict` per object; a missing tool
skips locally and fails in CI (``CI=true``), where ``../shared`` is always present.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.tools import IN_CI

PROJECT = Path(__file__).resolve().parents[2]
RUN = PROJECT.parent / "shared" / "mco-check" / "run"
# The tool unpacks its binary once; .cache/ is ignored by git.
CACHE = PROJECT / ".cache" / "mco-check"
TIMEOUT = 300.0
_LINE = re.compile(r"^(ok|FAIL)\s+(MachineConfig|KubeletConfig)/(\S+?):\s*(.*)$")
_POOL = re.compile(r"\bpool (\S+):")
_ACTION = re.compile(r"each node (?:does (.+)|reboots)$")
_TOTAL = re.compile(r"^(\d+) checked, (\d+) failed$")


class McoCheckError(RuntimeError):
    """mco-check could not run, or printed what this parser does not understand."""


@dataclass(frozen=True, slots=True)
class McoVerdict:
    """What mco-check said about one object."""

    kind: str
    name: str
    ok: bool
    detail: str  # the text after "Kind/name:"
    pool: str | None  # MachineConfigs: the pool its role label selects
    action: str | None  # "reboot", "reload crio", "restart crio", "none"; None on FAIL


def available() -> bool:
    """Whether ``../shared/mco-check/run`` is at hand."""
    return RUN.is_file()


def require() -> None:
    """Skip the test (locally) or fail it (in CI) when mco-check is absent."""
    if available():
        return
    message = f"{RUN} is absent: the MCO's own checks cannot run"
    if IN_CI:
        pytest.fail(f"{message}; CI always has ../shared")
    pytest.skip(message)


def parse(output: str) -> list[McoVerdict]:
    """The per-object verdicts of mco-check's output; the total line must agree."""
    verdicts = []
    total: tuple[int, int] | None = None
    for line in output.splitlines():
        line = line.rstrip()
        if match := _TOTAL.match(line):
            total = (int(match[1]), int(match[2]))
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        ok = match[1] == "ok"
        detail = match[4]
        pool = _POOL.search(detail)
        action = _ACTION.search(detail) if ok else None
        verdicts.append(McoVerdict(
            kind=match[2], name=match[3], ok=ok, detail=detail,
            pool=pool[1] if pool else None,
            action=(action[1] or "reboot") if action else None,
        ))
    if total is None:
        raise McoCheckError(f"no 'N checked, M failed' line in mco-check's output:\n{output}")
    if total != (len(verdicts), sum(not v.ok for v in verdicts)):
        raise McoCheckError(f"mco-check's total {total} does not match its lines:\n{output}")
    return verdicts


def mco_check(objects: Sequence[Mapping[str, Any]], *,
              timeout: float = TIMEOUT) -> list[McoVerdict]:
    """Run mco-check on ``objects`` (MachineConfigs and KubeletConfigs), one verdict each."""
    with tempfile.TemporaryDirectory(prefix="mco-check-") as tmp:
        path = Path(tmp) / "objects.json"
        path.write_text(json.dumps(list(objects)), encoding="utf-8")
        CACHE.mkdir(parents=True, exist_ok=True)
        # One run at a time across test workers: the tool unpacks its binary through one
        # fixed temporary file, and two first runs at once can execute a half-written one.
        with (CACHE / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                proc = subprocess.run(
                    ["bash", str(RUN), str(path)], capture_output=True, text=True,
                    timeout=timeout, env={**os.environ, "MCO_CHECK_DIR": str(CACHE)},
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise McoCheckError(f"mco-check did not finish in {timeout:g} s") from exc
    if proc.returncode not in (0, 1):
        raise McoCheckError(f"mco-check exited {proc.returncode}: {proc.stderr.strip()}")
    try:
        verdicts = parse(proc.stdout)
    except McoCheckError as exc:
        raise McoCheckError(f"{exc}\nstderr: {proc.stderr.strip()}") from None
    if (proc.returncode == 1) != any(not v.ok for v in verdicts):
        raise McoCheckError(f"exit status {proc.returncode} disagrees with:\n{proc.stdout}")
    return verdicts
