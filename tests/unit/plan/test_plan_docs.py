"""The ``autopilot plan`` and ``autopilot run --observe`` lines of the README and runbooks parse."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from autopilot.cli import build_parser

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "runbooks").glob("*.md"))]


def autopilot_lines() -> list[list[str]]:
    """Every ``autopilot plan|run`` command in a bash block (continuations joined)."""
    found = []
    for doc in DOCS:
        for block in re.findall(r"```bash\n(.*?)```", doc.read_text(), flags=re.S):
            for line in block.replace("\\\n", " ").splitlines():
                command = line.split("#", 1)[0].split("|", 1)[0].split("2>&1", 1)[0].strip()
                if re.match(r"autopilot (plan|run)\b", command):
                    found.append(shlex.split(command)[1:])
    return found


def test_documented_command_lines_parse() -> None:
    lines = autopilot_lines()
    assert any(a[0] == "plan" and "--enable" in a for a in lines), lines
    assert any(a[0] == "run" and "--observe" in a for a in lines), lines
    parser = build_parser()
    for argv in lines:
        args = parser.parse_args(argv)
        assert args.command == argv[0]
