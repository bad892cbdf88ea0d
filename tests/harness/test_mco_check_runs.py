"""The MCO checks' runner is safe for test workers that start it at the same moment."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support import mco_check as runner

KUBELET_CONFIG = {
    "apiVersion": "machineconfiguration.openshift.io/v1", "kind": "KubeletConfig",
    "metadata": {"name": "parallel-first-runs"},
    "spec": {"machineConfigPoolSelector": {"matchLabels": {
        "pools.operator.machineconfiguration.openshift.io/worker": ""}},
        "kubeletConfig": {"maxPods": 300}},
}


def test_first_runs_at_once_each_get_verdicts(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Four first runs on an empty cache: each unpacks or waits, none runs a half-written
    binary or trips the tool's checksum check (seen as an empty output under xdist)."""
    runner.require()
    monkeypatch.setattr(runner, "CACHE", tmp_path / "cache")

    def run(i: int) -> list[runner.McoVerdict]:
        # Staggered, so that a later run starts unpacking while an earlier one is writing.
        time.sleep(0.15 * i)
        return runner.mco_check([KUBELET_CONFIG])

    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(run, range(4)))
    assert [[(v.kind, v.name, v.ok) for v in run] for run in runs] == [
        [("KubeletConfig", "parallel-first-runs", True)]] * 4
