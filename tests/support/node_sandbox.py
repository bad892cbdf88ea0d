"""Run the units a rendered MachineConfig ships on a fake node, every command stubbed.

The sandbox writes the MachineConfig's files under a fake root, puts stub executables
first on ``PATH`` for every command a node script could use to change a disk, the
kernel or a service (``mkswap``, ``dd``, ``swapon``, ``systemctl``, ``crictl`` ...),
and runs a unit's ``ExecStart`` lines: Python scripts get ``--root <fake root>``, shell
scripts run as they are. Each stub records its argv and answers from a script of canned
replies, so a test can say what the node looks like and assert what was (never) done.
Nothing a unit does can reach the real machine's disks or services.

Only stubbed commands may run. Python scripts run under an audit hook that sees every
process they start: a command called by absolute path (``/usr/sbin/mkswap``), through a
shell, or not stubbed is refused before it starts and recorded (under its own name too,
so ``mkswap`` shows in :meth:`Sandbox.commands` however it was called); shell scripts
see only the stubs on ``PATH`` (any other command is recorded as refused) and may not
name a command by absolute path. A run
during which anything was refused fails the test.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASH = shutil.which("bash") or "/bin/bash"
# Commands that create, format, partition or overwrite storage.
FORMATTING = frozenset({
    "mkswap", "wipefs", "sgdisk", "parted", "sfdisk", "fdisk", "mkfs", "mkfs.xfs",
    "mkfs.ext4", "mkfs.vfat", "dd", "fallocate", "truncate", "losetup", "blkdiscard",
    "cryptsetup", "pvcreate", "vgcreate", "lvcreate",
})
STUBBED = FORMATTING | {
    "swapon", "swapoff", "blkid", "chmod", "chown", "chattr", "df", "systemctl", "crictl",
    "virsh", "systemd-inhibit", "busctl", "udevadm", "sysctl", "reboot", "shutdown",
    "poweroff", "halt", "kill", "pkill", "rm", "mount", "umount",
}
STUB = """#!{python}
import json, os, sys
name = os.path.basename(sys.argv[0])
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps([name, *args]) + "\\n")
replies = os.path.join({replies!r}, name + ".json")
if os.path.exists(replies):
    with open(replies) as handle:
        listed = json.load(handle)
    for index, reply in enumerate(listed):
        if args[: len(reply["match"])] == reply["match"]:
            if reply.get("once"):
                del listed[index]
                with open(replies, "w") as handle:
                    json.dump(listed, handle)
            sys.stdout.write(reply.get("stdout", ""))
            sys.exit(reply.get("rc", 0))
sys.exit(0)
"""

# Runs a node's Python script with an audit hook refusing every process it would start
# other than a stub called by name. argv: script, then the script's own arguments.
GUARD = """\
import json, os, runpy, sys
STUBBED = set({stubbed!r})
def record(entry):
    with open({log!r}, "a") as log:
        log.write(json.dumps(entry) + "\\n")
def hook(event, args):
    if event == "subprocess.Popen":
        executable, argv = args[0], args[1]
        argv = [argv] if isinstance(argv, (str, bytes)) else list(argv)
        command = os.fsdecode(executable if executable is not None else argv[0])
    elif event in ("os.exec", "os.posix_spawn", "os.spawn"):
        command = os.fsdecode(args[0] if event != "os.spawn" else args[1])
    elif event == "os.system":
        command = "/bin/sh"
    else:
        return
    name = os.path.basename(command)
    if name in STUBBED and command == name:
        return
    why = "not stubbed" if name not in STUBBED else "called by path " + command
    record([name, {refused!r}, why])
    raise PermissionError("node sandbox: refused " + command + ": " + why)
sys.addaudithook(hook)
script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(script)
runpy.run_path(script, run_name="__main__")
"""
REFUSED = "<refused by the sandbox>"
# A command word naming a program by absolute path in a shell script.
ABSOLUTE_COMMAND = re.compile(r"(?:^|[\s;|&(`])(/(?:usr/)?(?:local/)?s?bin/[\w.+-]+)", re.M)


def decode_source(source: str) -> bytes:
    """Bytes of an Ignition ``data:`` URL (base64 or plain)."""
    assert source.startswith("data:"), source[:40]
    meta, _, payload = source[len("data:"):].partition(",")
    if meta.endswith(";base64"):
        return base64.b64decode(payload, validate=True)
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(payload)


def file_bytes(entry: dict[str, Any]) -> bytes:
    """Decoded content of one Ignition ``storage.files`` entry."""
    contents = entry.get("contents") or {}
    data = decode_source(str(contents.get("source", "data:,")))
    if contents.get("compression") == "gzip":
        data = gzip.decompress(data)
    return data


def units_of(mc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """systemd units of a MachineConfig by name."""
    return {u["name"]: u for u in mc["spec"]["config"].get("systemd", {}).get("units", [])}


def exec_lines(unit_text: str, key: str = "ExecStart") -> list[str]:
    """The values of ``key=`` lines of a unit (prefixes like ``-`` stripped)."""
    found = []
    for line in unit_text.splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name == key:
            found.append(value.lstrip("-@:+!"))
    return found


@dataclass
class Sandbox:
    """A fake node: a root tree, stub commands and their call log."""

    base: Path
    root: Path = field(init=False)
    bin: Path = field(init=False)
    log: Path = field(init=False)
    replies: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = self.base / "root"
        self.bin = self.base / "bin"
        self.replies = self.base / "replies"
        self.log = self.base / "calls.jsonl"
        for folder in (self.root, self.bin, self.replies):
            folder.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        stub = STUB.format(python=sys.executable, log=str(self.log), replies=str(self.replies))
        for name in STUBBED:
            path = self.bin / name
            path.write_text(stub)
            path.chmod(0o755)
        # bash reads BASH_ENV first: a command it cannot find is recorded as refused.
        self.bash_env = self.base / "bash_env"
        self.bash_env.write_text(
            "command_not_found_handle() {\n"
            f"  printf '[\"%s\", \"{REFUSED}\", \"not stubbed\"]\\n' \"$1\" >> {self.log}\n"
            "  return 127\n}\n")
        self.guard = self.base / "guard.py"
        self.guard.write_text(GUARD.format(stubbed=sorted(STUBBED), log=str(self.log),
                                           refused=REFUSED))

    def reply(self, command: str, *replies: dict[str, Any]) -> None:
        """Canned replies of ``command``: ``{"match": [argv prefix], "stdout", "rc", "once"}``.

        The first reply whose ``match`` prefixes the arguments answers; a ``once`` reply
        answers a single time (so a node's state can change between calls).
        """
        (self.replies / f"{command}.json").write_text(json.dumps(list(replies)))

    def calls(self) -> list[list[str]]:
        """Every stubbed command run so far, as argv lists."""
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def commands(self) -> set[str]:
        """Names of the commands run or refused so far."""
        return {call[0] for call in self.calls()}

    def refused(self) -> list[list[str]]:
        """Commands the sandbox refused to start: ``[name, REFUSED, why]``."""
        return [call for call in self.calls() if call[1:2] == [REFUSED]]

    def path(self, node_path: str) -> Path:
        """A node path inside the fake root."""
        return self.root / node_path.lstrip("/")

    def write(self, node_path: str, content: str | bytes, *, mode: int | None = None) -> Path:
        """Create a file of the fake node."""
        target = self.path(node_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
        if mode is not None:
            target.chmod(mode)
        return target

    def symlink(self, node_path: str, target: str) -> None:
        """Create a symlink of the fake node (``target`` as the node would see it)."""
        link = self.path(node_path)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)

    def install(self, mc: dict[str, Any]) -> None:
        """Write the MachineConfig's files into the fake root with their modes."""
        for entry in mc["spec"]["config"].get("storage", {}).get("files", []):
            self.write(entry["path"], file_bytes(entry), mode=int(entry.get("mode", 0o644)))

    def tree(self) -> dict[str, tuple[int, bytes]]:
        """Every regular file and symlink under the fake root with its mode and content."""
        found: dict[str, tuple[int, bytes]] = {}
        for path in sorted(self.root.rglob("*")):
            info = path.lstat()
            rel = str(path.relative_to(self.root))
            if stat.S_ISLNK(info.st_mode):
                found[rel] = (info.st_mode, os.readlink(path).encode())
            elif stat.S_ISREG(info.st_mode):
                found[rel] = (info.st_mode, path.read_bytes())
        return found

    def argv(self, command: str, extra: Iterable[str] = ()) -> list[str]:
        """A unit's command line made runnable in the sandbox."""
        words = shlex.split(command)
        python = [sys.executable, str(self.guard)]
        if words[0] in ("/usr/bin/python3", "python3"):
            return [*python, str(self.path(words[1])), *words[2:], *extra,
                    "--root", str(self.root)]
        if words[0].startswith("/usr/local/bin/"):
            script = self.path(words[0])
            if script.read_bytes().startswith(b"#!/usr/bin/env python3"):
                return [*python, str(script), *words[1:], *extra, "--root", str(self.root)]
            self._check_shell(script.read_text())
            return [BASH, str(script), *words[1:]]
        if words[0] in ("/bin/sh", "/bin/bash", "sh", "bash"):
            self._check_shell(" ".join(words[1:]))
            return [BASH, *words[1:]]
        raise AssertionError(f"node sandbox: cannot run {command!r}: not a script it knows")

    @staticmethod
    def _check_shell(text: str) -> None:
        """A shell script naming a program by absolute path would bypass the stubs."""
        body = "\n".join(line for line in text.splitlines() if not line.startswith("#!"))
        found = sorted(set(ABSOLUTE_COMMAND.findall(body)))
        assert not found, f"node sandbox: the script calls {found} by absolute path; " \
            "call commands by name so the sandbox can stub them"

    def run(self, command: str, *, extra: Iterable[str] = (), timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
        """Run one command line of a unit with the stubs first on PATH."""
        # Only the stubs are on PATH: a command that is not stubbed is not found.
        env = {"PATH": str(self.bin), "LC_ALL": "C", "HOME": str(self.base),
               "BASH_ENV": str(self.bash_env)}
        proc = subprocess.run(self.argv(command, extra), env=env, cwd=self.base,
                              capture_output=True, text=True, timeout=timeout, check=False)
        assert not self.refused(), (f"node sandbox refused {self.refused()} while running "
                                    f"{command!r}:\n{proc.stdout}{proc.stderr}")
        return proc

    def run_unit(self, mc: dict[str, Any], unit: str, *, extra: Iterable[str] = ()
                 ) -> list[subprocess.CompletedProcess[str]]:
        """Run every ExecStart line of ``unit`` in order, as systemd would (stop at failure)."""
        results = []
        for line in exec_lines(units_of(mc)[unit]["contents"]):
            proc = self.run(line, extra=extra)
            results.append(proc)
            if proc.returncode != 0:
                break
        return results
