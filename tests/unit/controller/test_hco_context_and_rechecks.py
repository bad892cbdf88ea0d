"""The HCO context is a pure reading of one HCO state; the verdict memory forgets on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autopilot.controller.hco_context import ContextReports, read_context
from autopilot.controller.rechecks import Rechecks
from autopilot.golden.catalog import load_golden_state
from autopilot.kube.resources import ObjectRef

GOLDEN = load_golden_state(Path(__file__).resolve().parents[3] / "golden_state")
REF = ObjectRef("v1", "Service", "m", "ns")


def hco(**annotations: str) -> dict[str, Any]:
    return {"metadata": {"name": "kubevirt-hyperconverged", "annotations": annotations}}


class Events:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def emit(self, regarding: dict[str, Any], *, type: str, reason: str, note: str,
             action: str) -> None:
        self.reasons.append(reason)


def test_no_hco_or_no_annotation_is_idle() -> None:
    assert read_context(None, golden=GOLDEN) is None
    assert read_context(hco(), golden=GOLDEN) is None


def test_exclusions_are_read_and_a_bad_list_is_refused_whole() -> None:
    rules = "- kind: Service\n  name: m\n  namespace: ns\n"
    good = read_context(hco(**{"platform.kubevirt.io/autopilot": "true",
                               "platform.kubevirt.io/disabled-resources": rules}), golden=GOLDEN)
    assert good is not None and [(e.kind, e.name) for e in good.exclusions] == [("Service", "m")]
    bad = read_context(hco(**{"platform.kubevirt.io/autopilot": "true",
                              "platform.kubevirt.io/disabled-resources": "{not: a list"}),
                       golden=GOLDEN)
    assert bad is not None and bad.exclusions == () and bad.disabled_error


def test_reading_twice_reports_once() -> None:
    state = hco(**{"platform.kubevirt.io/autopilot": "true",
                   "platform.kubevirt.io/disabled-resources": "{not: a list"})
    events = Events()
    reports = ContextReports(events=events)
    for _ in range(3):
        context = read_context(state, golden=GOLDEN)
        assert context is not None
        reports.report(context)
    assert events.reasons == ["InvalidDisabledResources"]


class Resumable:
    def __init__(self) -> None:
        self.reset_refs: list[ObjectRef] = []

    def reset(self, ref: ObjectRef) -> None:
        self.reset_refs.append(ref)


def test_a_forced_pass_is_taken_once_and_drops_the_verdict() -> None:
    rechecks = Rechecks(resumable=Resumable())
    rechecks.verdicts.put(REF, "fingerprint", "7")
    rechecks.force(REF)
    assert not rechecks.verdicts.get(REF, "fingerprint", "7")
    assert rechecks.take_forced(REF) is True
    assert rechecks.take_forced(REF) is False


def test_resuming_resets_the_anti_thrashing_memory_and_the_verdict() -> None:
    resumable = Resumable()
    rechecks = Rechecks(resumable=resumable)
    rechecks.verdicts.put(REF, "fingerprint", "7")
    rechecks.pause_removed(REF)
    assert resumable.reset_refs == [REF]
    assert not rechecks.verdicts.get(REF, "fingerprint", "7")
    rechecks.verdicts.put(REF, "fingerprint", "8")
    rechecks.invalidate_all()
    assert not rechecks.verdicts.get(REF, "fingerprint", "8")
