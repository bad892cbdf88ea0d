"""``autopilot run`` imports what the controller runs, not the other commands' machinery.

Every module imported at start costs the controller time before its first apply
and resident memory for its whole life. The check runs the real entry point in a
fresh interpreter (``autopilot run --help``, which imports the command and
everything it imports at module level) and lists ``sys.modules`` when it ends, so a
new eager import anywhere on the way (the dispatcher, a command module, the
controller) fails it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from autopilot import cli

# What the other commands need and the controller never does.
NOT_FOR_RUN = (
    "autopilot.olm",  # `autopilot csv`: the OLM bundle generator
    "autopilot.plan",  # `autopilot plan`
    "autopilot.explain",
    "autopilot.demo",
    "autopilot.golden.rbacgen",  # `autopilot rbac`
    "autopilot.golden.rbacdocs",
    "autopilot.golden.rbaccheck",
    "kubesim",  # the demo's API server
    "kubernetes_asyncio",  # its generated models alone are tens of MB
)


# The real dispatcher in a fresh interpreter; the module names on stdout when it ends.
MARK = "-- modules --"
PROBE = f"""
import sys
MARK = {MARK!r}
from autopilot import cli
try:
    cli.main(sys.argv[1:])
except SystemExit:
    pass
sys.stdout.write("\\n" + MARK + "\\n" + "\\n".join(sorted(sys.modules)))
"""


def imported_by(*argv: str) -> set[str]:
    """Modules a fresh ``autopilot ARGV`` has imported when it ends."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(done.stdout.rpartition(MARK)[2].split())


def test_run_imports_only_the_run_path() -> None:
    names = imported_by("run", "--help")
    assert "autopilot.commands.run" in names
    assert "autopilot.controller.wiring" in names  # the check reads a real import set
    other_commands = {f"autopilot.commands.{c}" for c in cli.COMMANDS if c != "run"}
    unwanted = sorted(
        name for name in names
        if name in other_commands or name.split(".")[0] in NOT_FOR_RUN
        or any(name == p or name.startswith(p + ".") for p in NOT_FOR_RUN)
    )
    assert unwanted == [], f"`autopilot run` imports {unwanted}"


def test_help_without_a_command_still_lists_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in cli.COMMANDS:
        assert f"    {command} " in out, out


def test_a_mistyped_command_is_told_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["rnu"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'rnu'" in err and all(f"'{c}'" in err for c in cli.COMMANDS)
