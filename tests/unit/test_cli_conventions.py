"""The command line's conventions: --version, plain --help, one exit-code scheme."""

from __future__ import annotations

import re

import pytest

from autopilot import __version__, cli
from autopilot.commands import EXIT_INTERNAL, EXIT_USAGE, plain_help

SPHINX = re.compile(r":[a-z]+:`|``")


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"autopilot {__version__}"


@pytest.mark.parametrize("command", cli.COMMANDS)
def test_help_has_no_sphinx_markup(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: autopilot " + command)
    assert not SPHINX.search(out), out


def test_plain_help_keeps_the_names() -> None:
    doc = "Uses :func:`a.b.plan` over :class:`~a.b.RenderInputs` and ``--hco-file``."
    assert plain_help(doc) == "Uses a.b.plan over RenderInputs and --hco-file."


def test_bad_flags_exit_2_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["render", "--no-such-flag"])
    assert exit_.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("autopilot: error: ")


def test_an_unexpected_failure_is_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from autopilot.commands import features

    def broken(*_: object, **__: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(features, "run", broken)
    assert cli.main(["features", "--check"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err == "autopilot: internal error: RuntimeError: boom\n"
