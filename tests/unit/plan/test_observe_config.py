"""``run --observe`` takes no part in leader election: an observer must never hold the Lease."""

from __future__ import annotations

import argparse

from autopilot.config import add_run_arguments, config_from_args


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    return parser.parse_args(list(argv))


def test_observe_turns_leader_election_off() -> None:
    config = config_from_args(parse("--observe", "--leader-elect"), isatty=False)
    assert config.observe and not config.leader_elect
    config = config_from_args(parse("--leader-elect"), isatty=False)
    assert config.leader_elect and not config.observe
