"""Flag parsing of `autopilot run` into RunConfig (contract §11)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
import structlog

from autopilot.cli import build_parser, main
from autopilot.config import (
    FlagError,
    RunConfig,
    add_run_arguments,
    config_from_args,
    parse_duration,
)
from autopilot.observability.logging import configure_logging


def parse(*argv: str, isatty: bool = False) -> RunConfig:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    return config_from_args(parser.parse_args(list(argv)), isatty=isatty)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300.0),
        ("30s", 30.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("2h45m10s", 9910.0),
        ("0", 0.0),
        ("1m0.5s", 60.5),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "m", "5 m", "-5m", "5d", "1h-30m", "abc", "5m!"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_defaults() -> None:
    cfg = parse()
    assert cfg == RunConfig(
        kubeconfig=None,
        namespace="openshift-cnv",
        leader_elect=False,
        resync_period=300.0,
        log_format="json",
        log_level="info",
        golden_state=None,
        metrics_bind_address=":8080",
        health_probe_bind_address=":8082",
        debug_bind_address="127.0.0.1:8081",
        workers=2,
        edit_war_window=600.0,
    )


def test_console_default_on_a_terminal() -> None:
    assert parse(isatty=True).log_format == "console"
    assert parse("--log-format", "json", isatty=True).log_format == "json"


def test_every_flag(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    golden = tmp_path / "golden"
    golden.mkdir()
    cfg = parse(
        "--kubeconfig", str(kubeconfig),
        "--namespace", "kubevirt-hyperconverged",
        "--leader-elect",
        "--resync-period", "1h30m",
        "--log-format", "console",
        "--log-level", "DEBUG",
        "--golden-state", str(golden),
        "--metrics-bind-address", "127.0.0.1:9090",
        "--health-probe-bind-address", ":9091",
        "--debug-bind-address", "",
        "--workers", "4",
        "--edit-war-window", "4s",
    )
    assert cfg.kubeconfig == str(kubeconfig)
    assert cfg.namespace == "kubevirt-hyperconverged"
    assert cfg.leader_elect is True
    assert cfg.resync_period == 5400.0
    assert cfg.log_format == "console"
    assert cfg.log_level == "debug"
    assert cfg.golden_state == golden
    assert cfg.metrics_bind_address == "127.0.0.1:9090"
    assert cfg.health_probe_bind_address == ":9091"
    assert cfg.debug_bind_address == ""
    assert cfg.workers == 4
    assert cfg.edit_war_window == 4.0
    with pytest.raises(AttributeError):
        cfg.workers = 3  # type: ignore[misc]


def test_leader_elect_explicit_values() -> None:
    assert parse("--leader-elect=true").leader_elect is True
    assert parse("--leader-elect=false").leader_elect is False
    assert parse("--leader-elect", "False").leader_elect is False


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--resync-period", "5 minutes"], "--resync-period"),
        (["--resync-period", "100ms"], "--resync-period"),
        (["--edit-war-window", "ten minutes"], "--edit-war-window"),
        (["--edit-war-window", "500ms"], "--edit-war-window"),
        (["--log-format", "xml"], "--log-format"),
        (["--log-level", "loud"], "--log-level"),
        (["--namespace", "Bad_Name"], "--namespace"),
        (["--workers", "zero"], "--workers"),
        (["--workers", "0"], "--workers"),
        (["--leader-elect=maybe"], "--leader-elect"),
        (["--metrics-bind-address", "localhost"], "--metrics-bind-address"),
        (["--health-probe-bind-address", ""], "--health-probe-bind-address"),
        (["--debug-bind-address", ":99999"], "--debug-bind-address"),
        (["--golden-state", "/nonexistent/golden"], "--golden-state"),
        (["--kubeconfig", "/nonexistent/kubeconfig"], "--kubeconfig"),
    ],
)
def test_bad_values_name_the_flag(argv: list[str], flag: str) -> None:
    with pytest.raises(FlagError) as info:
        parse(*argv)
    message = str(info.value)
    assert message.startswith(flag + ":")
    assert "\n" not in message


def test_cli_reports_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--resync-period", "soon"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--resync-period" in err
    assert "Traceback" not in err


def test_help_lists_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["run", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--kubeconfig", "--namespace", "--leader-elect", "--resync-period", "--log-format",
        "--log-level", "--golden-state", "--metrics-bind-address",
        "--health-probe-bind-address", "--debug-bind-address", "--workers",
    ):
        assert flag in out


def test_json_logs_have_event_level_timestamp_and_no_tokens() -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", level="info", stream=stream)
    try:
        log = structlog.get_logger("test")
        log.debug("hidden")
        log.info(
            "request sent",
            headers={"Authorization": "Bearer abc.def-123"},
            detail="failed with Bearer sekret-token-1 attached",
            token="plain-secret",
            jwt="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        )
    finally:
        configure_logging(fmt="json", level="info")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "request sent"
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")
    text = stream.getvalue()
    for secret in ("abc.def-123", "sekret-token-1", "plain-secret", "c2lnbmF0dXJl"):
        assert secret not in text
