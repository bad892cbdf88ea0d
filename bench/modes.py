"""How long each benchmark runs: full (the design targets), quick, or smoke (seconds)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    """Sizes and durations of one run."""

    name: str
    # About 8 edits of each of the ~65 editable objects (10 applies is an object's budget).
    drift_edits: int = 520
    steady_passes: int = 3
    resync_period_s: int = 5
    nodes: int = 5000
    configmaps: int = 20000
    scale_rest_s: float = 20.0
    scale_churn_s: float = 60.0
    idle_s: float = 60.0
    storm_objects: int = 20
    storm_rate_hz: float = 10.0
    storm_s: float = 60.0
    # Edit wars at the pace of real fights: one object per edit period, fought at once.
    editwar_periods_s: tuple[float, ...] = (1.0, 10.0, 60.0)
    editwar_limit_s: float = 660.0


FULL = Mode("full")
QUICK = Mode("quick", drift_edits=200, nodes=5000, configmaps=20000,
             scale_rest_s=10.0,
             scale_churn_s=20.0, idle_s=15.0, storm_s=30.0, editwar_periods_s=(1.0, 10.0),
             editwar_limit_s=150.0)
SMOKE = Mode("smoke", drift_edits=5, steady_passes=1, resync_period_s=2,
             nodes=50,
             configmaps=200, scale_rest_s=1.0, scale_churn_s=2.0, idle_s=2.0,
             storm_objects=2, storm_rate_hz=5.0, storm_s=2.0, editwar_periods_s=(1.0,),
             editwar_limit_s=30.0)
