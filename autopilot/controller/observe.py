"""``autopilot run --observe``: the controller as usual, minus every write.

Watches, caches, drift detection by server-side dry run, metrics, ``explain`` and the
debug endpoints all run; what changes is narrow:

- the object pass ends where it would apply: the object is reported as drifted
  (compliance 0, one ``would apply`` log line per state with the unified diff) and
  never corrected (:attr:`autopilot.controller.object_pass.ObjectPass.observe`);
- events go nowhere (the process's recorder is silent, :mod:`autopilot.runtime.process`):
  an observer beside a writing operator must not fill the event stream with changes
  it did not make;
- tombstones are not swept (``autopilot plan`` lists the deletes they would make);
- the edit-war gate never runs, so no pause annotation is written;
- leader election is off (:mod:`autopilot.config`): an observer holds no Lease.
"""

from __future__ import annotations

import structlog

from autopilot.controller.reconciler import Reconciler
from autopilot.controller.tombstones import TombstoneSweeper

log = structlog.get_logger("autopilot.observe")


def observe_only(reconciler: Reconciler) -> None:
    """Turn a reconciler into an observer (the process's event recorder is already silent)."""
    reconciler.objects.observe = True
    reconciler.sweeper = TombstoneSweeper(
        tombstones=(), client=reconciler.objects.client, view=reconciler.view,
        events=reconciler.events, metrics=reconciler.metrics,
    )
    log.info("observe mode: nothing is written; drift is reported as 'would apply'",
             tombstones="not swept (autopilot plan lists their deletes)",
             events="none", leader_election="off")
