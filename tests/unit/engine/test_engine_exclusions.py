"""The HCO's platform.kubevirt.io/disabled-resources annotation."""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.engine.overrides import (
    Exclusion,
    ExclusionError,
    is_excluded,
    parse_disabled_resources,
)


def obj(kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


@pytest.mark.parametrize("text", [None, "", "   \n", "# only a comment\n", "[]", "~", "null"])
def test_empty_means_no_exclusions(text: str | None) -> None:
    assert parse_disabled_resources(text) == []


def test_parses_rules() -> None:
    rules = parse_disabled_resources(
        """
        - kind: ConfigMap
          name: "dash-*"
          namespace: openshift-config-managed
        - {kind: MachineConfig, name: 50-swap}
        - {kind: Secret, name: x, namespace: null}
        """
    )
    assert rules == [
        Exclusion("ConfigMap", "dash-*", "openshift-config-managed"),
        Exclusion("MachineConfig", "50-swap", None),
        Exclusion("Secret", "x", None),
    ]


def test_globs_and_namespaces() -> None:
    rules = parse_disabled_resources(
        "- {kind: ConfigMap, name: 'dash-?[0-9]*', namespace: 'openshift-*'}\n"
        "- {kind: MachineConfig, name: '*'}\n"
        "- {kind: Service, name: svc}\n"
        "- {kind: Secret, name: s, namespace: ''}\n"
    )
    assert is_excluded(obj("ConfigMap", "dash-a1x", "openshift-monitoring"), rules)
    assert not is_excluded(obj("ConfigMap", "dash-a1x", "default"), rules)
    assert not is_excluded(obj("ConfigMap", "dash-ab", "openshift-monitoring"), rules)
    assert not is_excluded(obj("ConfigMap", "Dash-a1", "openshift-x"), rules)  # case-sensitive
    assert is_excluded(obj("MachineConfig", "anything"), rules)
    assert not is_excluded(obj("machineconfig", "anything"), rules)  # kind is exact
    assert is_excluded(obj("Service", "svc", "any-namespace"), rules)
    assert is_excluded(obj("Service", "svc"), rules)
    assert not is_excluded(obj("Service", "svc2", "a"), rules)
    # namespace "" only matches cluster-scoped objects.
    assert is_excluded(obj("Secret", "s"), rules)
    assert not is_excluded(obj("Secret", "s", "ns"), rules)


def test_star_namespace_also_matches_cluster_scoped() -> None:
    rules = parse_disabled_resources("- {kind: Node, name: n, namespace: '*'}")
    assert is_excluded(obj("Node", "n"), rules)


def test_malformed_objects_never_match() -> None:
    rules = parse_disabled_resources("- {kind: X, name: '*'}")
    assert not is_excluded({"kind": "X"}, rules)
    assert not is_excluded({"kind": "X", "metadata": "junk"}, rules)
    assert not is_excluded({}, rules)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("- [unclosed", "invalid YAML"),
        ("a: 1\na: 2", "invalid YAML"),
        ("kind: X\nname: y", "expected a YAML list"),
        ("just a string", "got a string"),
        ("- 1", "item 1: expected a mapping"),
        ("- {kind: X, name: y}\n- {name: y}", "item 2: missing 'kind'"),
        ("- {kind: X}", "missing 'name'"),
        ("- {kind: X, name: 1}", "'name' must be a string, got a number"),
        ("- {kind: [X], name: y}", "'kind' must be a string, got a list"),
        ("- {kind: X, name: y, namespace: 3}", "'namespace' must be a string"),
        ("- {kind: X, name: y, namepsace: z}", "unknown key(s) namepsace"),
        ("- {kind: '', name: y}", "'kind' is empty"),
        ("- !!python/object:os.system {kind: X}", "invalid YAML"),
        ("[" * 5000, "invalid YAML"),
    ],
)
def test_errors_are_one_line(text: str, fragment: str) -> None:
    with pytest.raises(ExclusionError) as info:
        parse_disabled_resources(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message and len(message) < 400


def test_repeated_parses_give_independent_lists() -> None:
    text = "- {kind: X, name: y}"
    first = parse_disabled_resources(text)
    first.append(Exclusion("Z", "z"))
    assert parse_disabled_resources(text) == [Exclusion("X", "y")]
    for _ in range(2):  # errors are reported every time, not only the first
        with pytest.raises(ExclusionError, match="missing 'name'"):
            parse_disabled_resources("- {kind: X}")
