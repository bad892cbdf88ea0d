"""A tombstone with ``after`` deletes only where its replacement would be managed."""

from __future__ import annotations

from autopilot.golden.catalog import load_golden_state
from autopilot.kube.resources import ObjectRef
from autopilot.plan.survey import _replaced_here
from tests.support.rendering import GOLDEN_ROOT

OURS = ObjectRef("perses.dev/v1alpha2", "PersesDashboard", "virt-load-aware-descheduler",
                 "openshift-cnv")


def test_replacement_must_be_managed_here() -> None:
    [tomb] = [t for t in load_golden_state(GOLDEN_ROOT).tombstones
              if t.name == "descheduler-memory-aware-rebalancing"]
    assert _replaced_here(tomb, {OURS: "descheduler-dashboard"})
    # Not rendered (switched off, excluded, kind not served): the old one is kept.
    assert not _replaced_here(tomb, {})
    # Another asset rendering a same-named object is not the replacement.
    assert not _replaced_here(tomb, {OURS: "asset-health-dashboard"})
