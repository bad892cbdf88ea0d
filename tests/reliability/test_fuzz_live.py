"""User input on a running controller: a table of cases, then fuzzing for crashes.

The table: hand-written values of the `patch`, `ignore-fields`, `autopilot` and
`disabled-resources` annotations, each with what the contract says must follow,
written out here (not computed by the parsers under test): refused or applied,
the log line and event naming the object, the pointers or names reported, and
whether the metrics Service is still managed.

The fuzz: hypothesis writes arbitrary values of the same annotations (and label
and annotation values) onto the live Service and the HCO, and checks only what
holds for every input: the worker stays alive and healthy, every refusal it
logs names the object, and once the HCO is back to a plain `true` a valid
neighbour still gets its drift corrected.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Paths, render_offline
from tests.reliability.conftest import StartController
from tests.support.chaos import Target, get_pointer, merge_patch_for, targets_from
from tests.support.controller import Controller
from tests.support.passes import full_pass
from tests.support.platform import HCO_NS, HCO_PATH, Platform, labels_of
from tests.support.wait import eventually_sync

ON = {"platform.kubevirt.io/autopilot": "true"}
AUTOPILOT = "platform.kubevirt.io/autopilot"
DISABLED = "platform.kubevirt.io/disabled-resources"
PATCH = "platform.kubevirt.io/patch"
IGNORE = "platform.kubevirt.io/ignore-fields"
SVC_NAME = "virt-platform-autopilot-metrics"
SVC = f"/api/v1/namespaces/{HCO_NS}/services/{SVC_NAME}"
SM = f"/apis/monitoring.coreos.com/v1/namespaces/{HCO_NS}/servicemonitors/{SVC_NAME}"
COMPLIANCE = "virt_platform_compliance_status"
FUZZ_KEY = "fuzz.example.com/value"
NEIGHBOUR_KINDS = ("ServiceMonitor", "PrometheusRule", "KubeDescheduler", "PersesDashboard",
                   "MachineConfig")

# Log events about refused or unusual values, and whether they name the Service.
BAD_PATCH = "invalid patch annotation"
BAD_IGNORE = "invalid ignore-fields annotation"
BAD_DISABLED = "invalid disabled-resources annotation; ignoring it"
UNKNOWN = "autopilot allowlist names unknown assets"
IDLE = "autopilot idle"
REPORTS = (BAD_PATCH, BAD_IGNORE, BAD_DISABLED, UNKNOWN, IDLE)
PER_OBJECT = (BAD_PATCH, BAD_IGNORE)


def add_tier(value: str) -> str:
    return json.dumps([{"op": "add", "path": "/metadata/labels/tier", "value": value}])


@dataclass(frozen=True)
class Case:
    """Values to write and what must follow, from the contract (§3 annotations)."""

    id: str
    service: dict[str, str] = field(default_factory=dict)  # annotations on the Service
    hco: dict[str, str] = field(default_factory=dict)  # on the HCO (autopilot defaults to true)
    logged: tuple[str, ...] = ()  # REPORTS that must be logged; the others must not
    note: tuple[str, str] = ("", "")  # (event reason, text its note contains) on the Service
    tier: str | None = None  # the Service's "tier" label afterwards (None: absent)
    managed: bool = True  # the Service still has its compliance series
    unknown: tuple[str, ...] = ()  # names the allowlist log line reports
    pointers: tuple[str, ...] = ()  # pointers the ignore-fields log line reports


CASES = (
    # patch: a JSON array applied before apply; refused (object reconciled unpatched) when
    # not JSON, not an array, touching a protected path (as path or from), or failing.
    Case("patch-applied", service={PATCH: add_tier("gold")}, tier="gold"),
    Case("patch-empty-array", service={PATCH: "[]"}),
    Case("patch-not-json", service={PATCH: "{not json"}, logged=(BAD_PATCH,),
         note=("InvalidPatch", "invalid JSON")),
    Case("patch-object-not-array", service={PATCH: json.dumps(
        {"op": "add", "path": "/metadata/labels/tier", "value": "x"})}, logged=(BAD_PATCH,),
        note=("InvalidPatch", "invalid JSON")),
    Case("patch-rename", service={PATCH: json.dumps(
        [{"op": "replace", "path": "/metadata/name", "value": "x"}])}, logged=(BAD_PATCH,),
        note=("InvalidPatch", "forbidden path")),
    Case("patch-copy-from-namespace", service={PATCH: json.dumps(
        [{"op": "copy", "from": "/metadata/namespace", "path": "/metadata/labels/tier"}])},
        logged=(BAD_PATCH,), note=("InvalidPatch", "forbidden path")),
    Case("patch-status", service={PATCH: json.dumps(
        [{"op": "add", "path": "/status/x", "value": 1}])}, logged=(BAD_PATCH,),
        note=("InvalidPatch", "forbidden path")),
    Case("patch-whole-refused-when-one-op-fails", service={PATCH: json.dumps(
        [{"op": "add", "path": "/metadata/labels/tier", "value": "gold"},
         {"op": "remove", "path": "/spec/selector/nope"}])}, logged=(BAD_PATCH,)),
    Case("patch-test-op-fails", service={PATCH: json.dumps(
        [{"op": "test", "path": "/metadata/name", "value": "other"},
         {"op": "add", "path": "/metadata/labels/tier", "value": "gold"}])},
        logged=(BAD_PATCH,)),
    # ignore-fields: pointers without a leading "/" are reported and skipped, the rest apply
    # (the live value is kept; absent in live = removed from desired).
    Case("ignore-valid", service={IGNORE: "/metadata/labels/tier, /spec/ports/0/port"}),
    Case("ignore-one-bad", service={IGNORE: "/spec/ports/0/port, spec/selector/app"},
         logged=(BAD_IGNORE,), pointers=("spec/selector/app",),
         note=("InvalidIgnoreFields", "spec/selector/app")),
    Case("ignore-masks-the-patch", service={PATCH: add_tier("gold"),
                                            IGNORE: "/metadata/labels/tier"}),
    # autopilot: true in any case = everything; absent/empty/false = idle; a list = the
    # named assets or groups, unknown names reported while the known ones apply.
    Case("autopilot-upper-case", hco={AUTOPILOT: "TRUE"}),
    Case("autopilot-false", hco={AUTOPILOT: "false"}, logged=(IDLE,), managed=False),
    Case("autopilot-empty", hco={AUTOPILOT: ""}, logged=(IDLE,), managed=False),
    Case("autopilot-group-and-unknown", hco={AUTOPILOT: "observability, no-such-thing"},
         logged=(UNKNOWN,), unknown=("no-such-thing",)),
    Case("autopilot-other-asset-only", hco={AUTOPILOT: "hco-golden-config"}, managed=False),
    # disabled-resources: a YAML list of {kind, name, namespace?} with globs; invalid text
    # fails open (nothing excluded) and is reported.
    Case("disabled-glob", hco={DISABLED: "- kind: Service\n  name: '*'\n"}, managed=False),
    Case("disabled-prefix-and-namespace", hco={
        DISABLED: f"- {{kind: Service, name: 'virt-platform-*', namespace: {HCO_NS}}}"},
        managed=False),
    Case("disabled-other-name", hco={DISABLED: "- {kind: Service, name: other}"}),
    Case("disabled-other-namespace", hco={
        DISABLED: "- {kind: Service, name: '*', namespace: elsewhere}"}),
    Case("disabled-bad-yaml", hco={DISABLED: "{a: ["}, logged=(BAD_DISABLED,)),
    Case("disabled-not-mappings", hco={DISABLED: "- [1, 2]"}, logged=(BAD_DISABLED,)),
)


class Session:
    """What the examples share: the cluster, the controller and its log so far."""

    def __init__(self, platform: Platform, c: Controller) -> None:
        self.platform = platform
        self.c = c
        self.rendered = {(o["kind"], o["metadata"]["name"]): o for o in render_offline(ON)}
        self.neighbours = self._neighbours(platform)
        self.round = 0
        self.rejected_labels = 0

    def _neighbours(self, platform: Platform) -> list[tuple[tuple[str, str], Target]]:
        """Objects other than the Service, each with a field the golden state owns."""
        paths = Paths(platform.cluster)
        out = []
        for key, obj in sorted(self.rendered.items()):
            if key[0] not in NEIGHBOUR_KINDS:
                continue
            live = platform.get(paths.of(obj))
            if live is not None:
                out.extend((key, t) for t in targets_from({paths.of(obj): live}))
        assert len(out) >= 3, out
        return out

    def counts(self) -> dict[str, int]:
        return {event: len(self.c.log_lines(event)) for event in REPORTS}

    def alive(self) -> None:
        assert self.c.proc is not None and self.c.proc.poll() is None, self.c.log_text()[-2000:]
        status, text = self.c.http(self.c.health_port, "/healthz")
        assert status == 200, text

    def service_compliance(self) -> float | None:
        return self.c.metric(COMPLIANCE, kind="Service", name=SVC_NAME, namespace=HCO_NS)

    def write_service(self, annotations: dict[str, str | None], label: str | None = None
                      ) -> None:
        body: dict[str, Any] = {"metadata": {"annotations": annotations}}
        if label is not None:
            body["metadata"]["labels"] = {"fuzz.example.com/label": label}
        status, _ = self.platform.cluster.api(
            "PATCH", SVC, body=body, content_type="application/merge-patch+json")
        if status == 422 and label is not None:  # the server refuses the label value
            self.rejected_labels += 1
            body["metadata"].pop("labels")
            status, _ = self.platform.cluster.api(
                "PATCH", SVC, body=body, content_type="application/merge-patch+json")
        assert status == 200, status

    def reset(self) -> None:
        """Back to a plain `true` HCO and an unannotated Service, converged."""
        self.platform.annotate_hco({**ON, DISABLED: None})
        self.write_service({PATCH: None, IGNORE: None})
        eventually_sync(lambda: self.service_compliance() == 1, timeout=20,
                        what="the Service managed and compliant again")
        self.platform.wait_for(SVC, lambda o: "tier" not in labels_of(o),
                               what="the Service without the patched label")


def check_case(s: Session, case: Case) -> None:
    """Write the case's values and check what the contract says follows."""
    before = s.counts()
    if case.service:
        s.write_service(dict(case.service))
    s.platform.annotate_hco({**ON, **case.hco})
    if IDLE in case.logged:
        # Idle: no asset passes to wait for; the idle line is the evidence of the pass.
        eventually_sync(lambda: s.counts()[IDLE] > before[IDLE], timeout=20, what="idle")
    else:
        for event in case.logged:
            eventually_sync(lambda e=event: s.counts()[e] > before[e], timeout=20,
                            what=f"{event!r} for {case.id}")
        full_pass(s.c, s.platform)
    after = s.counts()
    assert {e for e in REPORTS if after[e] > before[e]} == set(case.logged), (case, after)
    for event in set(case.logged) & set(PER_OBJECT):
        line = s.c.log_lines(event)[-1]
        assert (line.get("kind"), line.get("name")) == ("Service", SVC_NAME), line
    if case.pointers:
        assert s.c.log_lines(BAD_IGNORE)[-1]["pointers"] == list(case.pointers)
    if case.unknown:
        assert s.c.log_lines(UNKNOWN)[-1]["unknown"] == list(case.unknown)
    reason, text = case.note
    if reason:
        eventually_sync(lambda: [e for e in s.platform.events(
            name=SVC_NAME, namespace=HCO_NS, reason=reason) if text in (e.get("note") or "")],
            what=f"a {reason} event saying {text!r}")
    live = s.platform.get(SVC)
    assert live is not None, "the Service was deleted"
    assert labels_of(live).get("tier") == case.tier, (case.id, labels_of(live))
    assert (s.service_compliance() is not None) == case.managed, case.id


@pytest.mark.timeout(420)
def test_annotation_values_on_a_live_controller(platform: Platform,
                                                controller: StartController) -> None:
    platform.create_hco(ON)
    c = controller(resync="30s")
    platform.wait_for(SM, what="ServiceMonitor applied")
    s = Session(platform, c)
    for case in CASES:
        check_case(s, case)
        s.alive()
        s.reset()
    assert "Traceback" not in c.log_text()
    assert c.stop() == 0


# -- fuzzing for crashes ----------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
# Up to 50,000 characters: at 4 bytes a character still under the API server's 256 KiB
# limit on an object's annotations, which refuses larger ones (422) before we see them.
BIG = st.builds(lambda ch, n: ch * n, st.characters(exclude_categories=("Cs",)),
                st.integers(0, 50_000))
POINTERS = st.one_of(
    st.sampled_from([
        "/metadata/labels/tier", "/metadata/name", "/metadata/namespace", "/metadata/name/",
        "/metadata/managedFields", "/apiVersion", "/kind", "/status", "/metadata~1name",
        "/metadata/../metadata/name", "/metadata/./name", "//metadata/name", "/spec/selector/app",
        "/spec/ports/0/port", "/spec/ports/-", "/spec/ports/99", "", "/", "metadata/name",
        "/metadata/labels/a~1b", "/a~2", "/spec/type",
    ]),
    TEXT,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
OPS = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
     "path": POINTERS},
    optional={"value": JSON_VALUES, "from": POINTERS},
)
PATCHES = st.one_of(TEXT, st.lists(OPS, max_size=4).map(json.dumps),
                    JSON_VALUES.map(json.dumps))
IGNORES = st.lists(POINTERS, max_size=5).map(",".join)
EXCLUSION = st.dictionaries(st.sampled_from(["kind", "name", "namespace", "extra"]),
                            st.one_of(TEXT, st.sampled_from(["*", "Service", "[", "?*"]),
                                      st.integers()), max_size=3)
DISABLED_VALUES = st.one_of(TEXT, st.lists(EXCLUSION, max_size=3).map(json.dumps),
                            st.sampled_from(["- kind: Service\n  name: '*'", "{a: [", "- [1, 2]"]))
AUTOPILOT_VALUES = st.one_of(
    st.sampled_from(["true", " TRUE ", "false", "", "observability", "no-such-asset",
                     "autopilot-servicemonitor,bogus", ",,,", "observability, nope"]),
    TEXT,
)


@pytest.mark.timeout(300)
def test_fuzzed_annotations_never_break_a_live_controller(platform: Platform,
                                                          controller: StartController) -> None:
    platform.create_hco(ON)
    c = controller(resync="30s")
    platform.wait_for(SM, what="ServiceMonitor applied")
    s = Session(platform, c)

    examples = int(os.environ.get("AUTOPILOT_FUZZ_EXAMPLES", "40"))

    @settings(max_examples=examples, deadline=None,
              database=None, suppress_health_check=list(HealthCheck))
    @given(patch=PATCHES, ignore=IGNORES, value=st.one_of(TEXT, BIG), label=TEXT,
           autopilot=AUTOPILOT_VALUES, disabled=DISABLED_VALUES)
    def example(patch: str, ignore: str, value: str, label: str, autopilot: str,
                disabled: str) -> None:
        s.round += 1
        s.write_service({PATCH: patch, IGNORE: ignore, FUZZ_KEY: value}, label)
        platform.annotate_hco({AUTOPILOT: autopilot, DISABLED: disabled})
        s.alive()
        # Whatever was written, a plain `true` HCO gets a valid neighbour corrected.
        platform.annotate_hco({**ON, DISABLED: None})
        _, t = s.neighbours[s.round % len(s.neighbours)]  # rotating: no bucket runs dry
        platform.patch(t.path, merge_patch_for(t.pointer, t.meddled[0]))
        platform.wait_for(t.path, lambda o: get_pointer(o, t.pointer) == t.golden,
                          what=f"neighbour {t.path} corrected")
        s.alive()

    example()
    print("fuzz summary:", json.dumps({
        "examples": s.round, "labels refused by the server": s.rejected_labels,
        **{f"{event} lines": n for event, n in s.counts().items()},
        "failed to apply lines": len(c.log_lines("failed to apply", name=SVC_NAME)),
    }))
    # As many examples ran as RELIABILITY.md claims (hypothesis stops early only when
    # a strategy runs dry, which would make the claim false).
    assert s.round >= examples, (s.round, examples)
    # Every refusal is reported against the object it concerns.
    for event in PER_OBJECT:
        for line in c.log_lines(event):
            assert (line.get("kind"), line.get("name")) == ("Service", SVC_NAME), line
    assert "Traceback" not in c.log_text()
    platform.annotate_hco({DISABLED: None})
    status, _ = platform.cluster.api("GET", HCO_PATH)
    assert status == 200
    assert c.stop() == 0
