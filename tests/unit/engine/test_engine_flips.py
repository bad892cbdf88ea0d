"""Owner flips from managedFields, shaped exactly as a v1.36 kube-apiserver writes them.

The inline objects copy what a real server answered (see
tests/integration/test_flips_managed_fields.py, which checks the same cases
against the server the suite runs with); the first test reads a recording.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autopilot.antithrash import flips

US = "virt-platform-autopilot"
T0, T1, T2 = "2026-11-30T13:29:11Z", "2026-11-30T13:29:12Z", "2026-11-30T13:29:13Z"
ALL = {"f:data": {"f:a": {}, "f:b": {}, "f:c": {}},
       "f:metadata": {"f:labels": {"f:l": {}}}}


def entry(manager: str, operation: str, time: str, fields: dict[str, Any],
          **extra: str) -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "apiVersion": "v1", "time": time,
            "fieldsType": "FieldsV1", "fieldsV1": fields, **extra}


def cm(data: dict[str, str], *managed: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "x", "resourceVersion": "7",
                         "labels": {"l": "1"}, "managedFields": list(managed)},
            "data": data}


DRY = cm({"a": "1", "b": "2", "c": "3"}, entry(US, "Apply", T2, ALL))
OURS_BEFORE = flips.field_paths(ALL)


def test_recorded_merge_patch_names_the_update_entry(shared_dir: Path) -> None:
    rec = json.loads((shared_dir / "kube-fixtures" / "ssa-conflict-dryrun-force.json").read_text())
    steps = rec["steps"]
    dry = steps[2]["response"]["body"]
    assert steps[2]["request"]["query"]["dryRun"] == "All"
    live = steps[3]["response"]["body"]
    found = flips.contest(live=live, dry_run=dry, manager=US)
    assert found is not None
    assert [(w.manager, w.operation, w.fields) for w in found.writers] == [
        ("kubectl-edit", "Update", ("data.a",))]
    assert found.describe() == "kubectl-edit (Update) over data.a"


def test_merge_patch_takes_a_field_into_an_update_entry() -> None:
    live = cm({"a": "X", "b": "2", "c": "3"},
              entry(US, "Apply", T0, {"f:data": {"f:b": {}, "f:c": {}},
                                      "f:metadata": {"f:labels": {"f:l": {}}}}),
              entry("kubectl-patch", "Update", T1, {"f:data": {"f:a": {}}}))
    for previous in (None, OURS_BEFORE):
        found = flips.contest(live=live, dry_run=DRY, manager=US, previous=previous)
        assert found is not None and found.managers == ("kubectl-patch",)
        assert found.writers[0].fields == ("data.a",)
        assert found.writers[0].evidence == flips.OWNS


def test_forced_apply_by_another_manager() -> None:
    live = cm({"a": "Z", "b": "2", "c": "3"},
              entry("argocd", "Apply", T1, {"f:data": {"f:a": {}}}),
              entry(US, "Apply", T1, {"f:data": {"f:b": {}, "f:c": {}},
                                      "f:metadata": {"f:labels": {"f:l": {}}}}))
    found = flips.contest(live=live, dry_run=DRY, manager=US)
    assert found is not None
    assert found.describe() == "argocd (Apply) over data.a"


def test_update_by_put_and_two_writers_most_recent_first() -> None:
    live = cm({"a": "X", "b": "PUT", "c": "3"},
              entry(US, "Apply", T0, {"f:data": {"f:c": {}},
                                      "f:metadata": {"f:labels": {"f:l": {}}}}),
              entry("kubectl-patch", "Update", T1, {"f:data": {"f:a": {}}}),
              entry("cron", "Update", T2, {"f:data": {"f:b": {}}}))
    found = flips.contest(live=live, dry_run=DRY, manager=US)
    assert found is not None
    assert [(w.manager, w.fields) for w in found.writers] == [
        ("cron", ("data.b",)), ("kubectl-patch", ("data.a",))]


def test_removed_field_falls_back_to_the_latest_other_writer() -> None:
    # A removal leaves no trace of its author: the field just leaves our entry.
    live = cm({"a": "X", "c": "3"},
              entry(US, "Apply", T0, {"f:data": {"f:c": {}},
                                      "f:metadata": {"f:labels": {"f:l": {}}}}),
              entry("old-script", "Update", T0, {"f:metadata": {"f:annotations": {"f:n": {}}}}),
              entry("kubectl-patch", "Update", T1, {"f:data": {"f:a": {}}}))
    found = flips.contest(live=live, dry_run=DRY, manager=US, previous=OURS_BEFORE)
    assert found is not None
    by_evidence = {w.evidence: w for w in found.writers}
    assert by_evidence[flips.OWNS].fields == ("data.a",)
    latest = by_evidence[flips.LATEST]
    assert (latest.manager, latest.fields) == ("kubectl-patch", ("data.b",))
    assert "probably removed data.b" in latest.describe()


def test_removal_with_no_other_entry_is_an_unknown_writer() -> None:
    live = cm({"a": "1", "b": "2"},
              entry(US, "Apply", T0, {"f:data": {"f:a": {}, "f:b": {}},
                                      "f:metadata": {"f:labels": {"f:l": {}}}}))
    found = flips.contest(live=live, dry_run=DRY, manager=US, previous=OURS_BEFORE)
    assert found is not None and found.managers == ()
    assert found.describe() == "an unknown client removed data.c"


def test_removal_is_not_counted_without_knowing_what_we_owned() -> None:
    # Just after a start a missing field may as well be new in the desired state.
    live = cm({"a": "1", "b": "2"},
              entry(US, "Apply", T0, {"f:data": {"f:a": {}, "f:b": {}},
                                      "f:metadata": {"f:labels": {"f:l": {}}}}))
    assert flips.contest(live=live, dry_run=DRY, manager=US, previous=None) is None


def test_our_desired_state_changing_is_not_a_flip() -> None:
    # An HCO edit changed the value we want; the live field is still ours.
    live = cm({"a": "old", "b": "2", "c": "3"}, entry(US, "Apply", T0, ALL))
    assert flips.contest(live=live, dry_run=DRY, manager=US, previous=OURS_BEFORE) is None
    # A field the desired state gained is not "taken back" either, even if another
    # manager set it before we wanted it.
    before = flips.field_paths({"f:data": {"f:a": {}, "f:b": {}},
                                "f:metadata": {"f:labels": {"f:l": {}}}})
    live = cm({"a": "1", "b": "2", "c": "theirs"},
              entry(US, "Apply", T0, {"f:data": {"f:a": {}, "f:b": {}},
                                      "f:metadata": {"f:labels": {"f:l": {}}}}),
              entry("helm", "Update", T0, {"f:data": {"f:c": {}}}))
    assert flips.contest(live=live, dry_run=DRY, manager=US, previous=before) is None


def test_shared_ownership_is_not_a_flip() -> None:
    # Another manager applying the same value shares the field; it is still ours.
    live = cm({"a": "1", "b": "2", "c": "3"},
              entry("other", "Apply", T1, {"f:data": {"f:c": {}}}),
              entry(US, "Apply", T0, ALL))
    assert flips.contest(live=live, dry_run=DRY, manager=US, previous=OURS_BEFORE) is None


def test_our_own_update_entry_counts_as_ours_and_status_writers_are_ignored() -> None:
    live = cm({"a": "1", "b": "2", "c": "3"},
              entry(US, "Apply", T0, {"f:data": {"f:a": {}, "f:b": {}},
                                      "f:metadata": {"f:labels": {"f:l": {}}}}),
              entry(US, "Update", T1, {"f:data": {"f:c": {}}}),
              entry("kubelet", "Update", T2, {"f:data": {"f:a": {}}}, subresource="status"))
    assert flips.contest(live=live, dry_run=DRY, manager=US) is None


SVC_PORT = 'k:{"port":8080,"protocol":"TCP"}'


def svc(*managed: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "s", "namespace": "x", "managedFields": list(managed)}}


SVC_OURS = {"f:metadata": {"f:labels": {"f:platform.kubevirt.io/managed-by": {}}},
            "f:spec": {"f:ports": {SVC_PORT: {".": {}, "f:name": {}, "f:port": {},
                                              "f:protocol": {}, "f:targetPort": {}}},
                       "f:selector": {}}}


def test_atomic_selector_and_keyed_list_items_read_well() -> None:
    live = svc(
        entry(US, "Apply", T0, {"f:metadata": SVC_OURS["f:metadata"],
                                "f:spec": {"f:ports": {SVC_PORT: {
                                    ".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}}}}}),
        entry("kubectl-patch", "Update", T1,
              {"f:spec": {"f:selector": {}, "f:ports": {SVC_PORT: {"f:targetPort": {}}}}}),
    )
    found = flips.contest(live=live, dry_run=svc(entry(US, "Apply", T2, SVC_OURS)), manager=US)
    assert found is not None
    assert found.writers[0].fields == (
        "spec.ports[port=8080,protocol=TCP].targetPort", "spec.selector")


def test_a_removed_list_item_is_reported_once() -> None:
    live = svc(entry(US, "Apply", T0, {"f:spec": {"f:selector": {}},
                                       "f:metadata": SVC_OURS["f:metadata"]}))
    found = flips.contest(live=live, dry_run=svc(entry(US, "Apply", T2, SVC_OURS)),
                          manager=US, previous=flips.field_paths(SVC_OURS))
    assert found is not None
    assert found.writers[0].fields == ("spec.ports[port=8080,protocol=TCP]",)


MC_API = "machineconfiguration.openshift.io/v1"


def test_a_node_whose_children_were_taken_stays_ours_as_a_leaf() -> None:
    # kubectl patch of a MachineConfig's ignition version (the edit war of the report): the
    # server rewrites our {".": {}, "f:version": {}} as a bare {} and the field moves.
    ours = {"f:metadata": {"f:labels": {"f:platform.kubevirt.io/managed-by": {}}},
            "f:spec": {"f:config": {"f:ignition": {".": {}, "f:version": {}},
                                    "f:storage": {".": {}, "f:files": {}}}}}
    mine_now = {"f:metadata": ours["f:metadata"],
                "f:spec": {"f:config": {"f:ignition": {},
                                        "f:storage": {".": {}, "f:files": {}}}}}

    def mc(*managed: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": MC_API, "kind": "MachineConfig",
                "metadata": {"name": "90-worker-swap-online", "managedFields": list(managed)}}

    live = mc({**entry(US, "Apply", T0, mine_now), "apiVersion": MC_API},
              {**entry("kubectl-patch", "Update", T1,
                       {"f:spec": {"f:config": {"f:ignition": {"f:version": {}}}}}),
               "apiVersion": MC_API})
    dry = mc({**entry(US, "Apply", T2, ours), "apiVersion": MC_API})
    found = flips.contest(live=live, dry_run=dry, manager=US,
                          previous=flips.field_paths(ours))
    assert found is not None
    assert found.describe() == "kubectl-patch (Update) over spec.config.ignition.version"


def test_readable_paths() -> None:
    assert flips.readable(("f:metadata", "f:labels", "f:platform.kubevirt.io/managed-by")) == \
        'metadata.labels["platform.kubevirt.io/managed-by"]'
    assert flips.readable(("f:metadata", "f:finalizers", 'v:"x"')) == 'metadata.finalizers[="x"]'
    assert flips.readable(("f:spec", "f:items", "i:0", "f:name")) == "spec.items[0].name"
    assert flips.readable(("f:spec", 'k:{"name":"c"}')) == "spec[name=c]"


def test_many_fields_are_summarised() -> None:
    writer = flips.Writer(manager="m", operation="Update",
                          fields=tuple(f"data.k{i}" for i in range(8)))
    assert writer.describe().endswith("data.k4 and 3 more")


def test_malformed_managed_fields_are_ignored() -> None:
    live = {"metadata": {"managedFields": ["junk", {"manager": 3, "fieldsV1": "x"}, None]}}
    assert flips.contest(live=live, dry_run=DRY, manager=US) is None
    assert flips.contest(live={}, dry_run={}, manager=US) is None
    assert flips.owned_by({"metadata": {"managedFields": "nope"}}, US) == frozenset()
