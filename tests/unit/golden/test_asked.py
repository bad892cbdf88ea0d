"""The CRDs the templates read whole by a literal name are found in their source."""

from __future__ import annotations

from autopilot.golden.asked import crds_read_by_name
from autopilot.golden.catalog import GoldenState, load_golden_state
from tests.unit.golden.conftest import GoldenBuilder


def test_literal_crd_enum_names_are_found_and_computed_ones_are_not(
        make_golden: GoldenBuilder) -> None:
    gs = load_golden_state(make_golden({"assets/demo/cm.yaml.j2": """
        {%- set a = crd_enum("widgets.example.com", "spec.modes") -%}
        {%- set name = "gadgets." ~ "example.com" -%}
        {%- set b = crd_enum(name, "spec.modes") -%}
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: demo, namespace: {{ namespace }}}
        data: {modes: "{{ (a + b) | join(',') }}", other: "{{ object_exists('v1', 'X', 'y') }}"}
        """}))
    assert crds_read_by_name(gs) == {"widgets.example.com"}


def test_the_shipped_golden_state_reads_the_descheduler_crd(golden: GoldenState) -> None:
    assert crds_read_by_name(golden) == {"kubedeschedulers.operator.openshift.io"}
