"""The node sandbox itself: only stubbed commands, called by name, ever start.

A node script that slipped past the stubs would run the real command on this
machine; these checks make sure the sandbox notices and fails the test instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.node_sandbox import REFUSED, Sandbox

SCRIPT = "/usr/local/bin/probe.py"


def python_script(box: Sandbox, body: str) -> str:
    box.write(SCRIPT, "import subprocess\n" + body + "\n", mode=0o755)
    return f"/usr/bin/python3 {SCRIPT}"


def test_a_stub_called_by_name_runs_and_is_recorded(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    box.reply("blkid", {"match": ["-p"], "stdout": "TYPE=swap\n"})
    line = python_script(box, "print(subprocess.run(['blkid', '-p', '/dev/x'], "
                              "capture_output=True, text=True).stdout, end='')")
    proc = box.run(line)
    assert (proc.returncode, proc.stdout) == (0, "TYPE=swap\n"), proc.stderr
    assert box.calls() == [["blkid", "-p", "/dev/x"]]


@pytest.mark.parametrize(("call", "name"), [
    ("subprocess.run(['/usr/sbin/mkswap', '/dev/x'])", "mkswap"),
    ("subprocess.run('mkswap /dev/x', shell=True)", "sh"),
    ("subprocess.run(['touch', '/tmp/x'])", "touch"),
    ("import os; os.system('mkswap /dev/x')", "sh"),
    ("import os; os.execv('/usr/sbin/mkswap', ['mkswap'])", "mkswap"),
])
def test_anything_else_is_refused_and_fails_the_run(tmp_path: Path, call: str,
                                                    name: str) -> None:
    box = Sandbox(tmp_path)
    line = python_script(box, call)
    with pytest.raises(AssertionError, match="node sandbox refused"):
        box.run(line)
    assert [entry[:2] for entry in box.refused()] == [[name, REFUSED]]
    assert name in box.commands()


def test_a_refusal_the_script_swallows_still_fails_the_run(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    line = python_script(box, "try:\n    subprocess.run(['/usr/sbin/mkswap'])\n"
                              "except OSError:\n    pass")
    with pytest.raises(AssertionError, match="called by path /usr/sbin/mkswap"):
        box.run(line)


def test_a_shell_script_naming_a_program_by_path_is_not_run(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    box.write("/usr/local/bin/probe.sh", "#!/bin/bash\nset -e\n/usr/sbin/mkswap /dev/x\n",
              mode=0o755)
    with pytest.raises(AssertionError, match=r"calls \['/usr/sbin/mkswap'\] by absolute path"):
        box.run("/usr/local/bin/probe.sh")
    assert box.calls() == []


def test_a_shell_script_finds_only_the_stubs_and_the_rest_is_refused(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    box.write("/usr/local/bin/probe.sh", "#!/bin/bash\nswapon --show\ntouch x\n", mode=0o755)
    with pytest.raises(AssertionError, match="node sandbox refused"):
        box.run("/usr/local/bin/probe.sh")
    assert box.calls() == [["swapon", "--show"], ["touch", REFUSED, "not stubbed"]]
    assert not (tmp_path / "x").exists()
