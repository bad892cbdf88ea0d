"""Parity with the reference operator on its own known cluster.

``../shared/reference/cluster`` is built on the test API server exactly as the
reference's README says (every published CRD, its namespaces, its HyperConverged
with every opt-in, its default StorageClass, its six nodes), our controller runs with
the exporter image the reference had, and once every object it manages is compliant
our objects are compared with ``../shared/reference/objects``: objects of the same
kind and name field by field, the others by kind and name. Every difference must be
listed in ``golden_state/REFERENCE.md`` with its reason and source, and every row
there must still name a difference (see :mod:`tests.support.reference_diff`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from autopilot.golden.catalog import load_golden_state
from autopilot.golden.kinds import rendered_objects
from tests.support.audit_forwarding import KEPT, forwarded
from tests.support.controller import PROJECT, Controller
from tests.support.mco_check import available as mco_check_available
from tests.support.mco_check import mco_check
from tests.support.passes import GOLDEN, NUDGE, full_pass
from tests.support.platform import Platform
from tests.support.reference_diff import (
    MISSING,
    OBJECT,
    Difference,
    Row,
    comparable,
    differences,
    literal,
    load_reference,
    parse_table,
)
from tests.support.tools import IN_CI
from tests.support.wait import eventually_sync

REFERENCE = PROJECT.parent / "shared" / "reference"
CRDS = PROJECT.parent / "shared" / "crds"
TABLE = PROJECT / "golden_state" / "REFERENCE.md"
IMAGE = {"RELATED_IMAGE_KUBEVIRT_METRICS_EXPORTER": "quay.io/example/exporter:1"}
COMPLIANCE = "virt_platform_compliance_status"
EXPORTER_NS = "kubevirt-metrics-exporter"


def require_reference() -> None:
    """Skip locally, fail in CI, when the reference's output is not at hand."""
    if (REFERENCE / "objects").is_dir() and CRDS.is_dir():
        return
    message = f"{REFERENCE} is absent: nothing to compare with"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def documents(path: Path) -> list[dict[str, Any]]:
    """The objects of a YAML file (a v1 List is unpacked)."""
    out = []
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if isinstance(doc, dict):
            out += doc["items"] if doc.get("kind") == "List" else [doc]
    return out


def build_reference_cluster(cluster: Any, paths: Any) -> None:
    """The reference's README, steps 1 to 5."""
    cluster.install_crds(*sorted(CRDS.rglob("*.yaml")), timeout=180.0)
    for name in ("namespaces.yaml", "hco.yaml", "storageclass.yaml", "nodes.yaml"):
        for obj in documents(REFERENCE / "cluster" / name):
            collection = paths.of(obj).rsplit("/", 1)[0]
            status, body = cluster.api("POST", collection, body=obj)
            assert status == 201, (name, obj["metadata"]["name"], status, body)


def api_versions() -> dict[str, str]:
    """apiVersion of every kind either side writes (the reference's, else the catalogue's)."""
    golden = load_golden_state(GOLDEN)
    out = {obj["kind"]: obj["apiVersion"] for _, obj in rendered_objects(golden)[0]}
    for obj in load_reference(REFERENCE / "objects").values():
        out[obj["kind"]] = obj["apiVersion"]
    return out


def converged(c: Controller) -> dict[tuple[str, str, str], float]:
    """Every object the controller manages, once all are compliant (else {})."""
    series = {(d["kind"], d.get("namespace", ""), d["name"]): v
              for d, v in ((dict(ls), v) for ls, v in c.series(COMPLIANCE).items())}
    return series if series and all(v == 1 for v in series.values()) else {}


def read_ours(cluster: Any, paths: Any, keys: set[tuple[str, str, str]],
              versions: dict[str, str]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Our live objects by key."""
    out = {}
    for kind, namespace, name in sorted(keys):
        meta = {"name": name, **({"namespace": namespace} if namespace else {})}
        status, obj = cluster.api("GET", paths.of(
            {"apiVersion": versions[kind], "kind": kind, "metadata": meta}))
        assert status == 200, (kind, namespace, name, status)
        # The test's own nudge (tests.support.passes) is not content.
        (obj["metadata"].get("annotations") or {}).pop(NUDGE, None)
        out[(kind, namespace, name)] = obj
    return out


def shown(key: tuple[str, str, str]) -> str:
    _, namespace, name = key
    return f"{namespace}/{name}" if namespace else name


def all_differences(ours: dict[tuple[str, str, str], dict[str, Any]],
                    theirs: dict[tuple[str, str, str], dict[str, Any]]) -> list[Difference]:
    """Field differences of shared objects, and one (object) difference per lone object."""
    out: list[Difference] = []
    for key in sorted(set(ours) | set(theirs)):
        if key in ours and key in theirs:
            out += differences(ours[key], theirs[key])
        else:
            out.append(Difference(key[0], shown(key), OBJECT,
                                  "present" if key in ours else MISSING,
                                  "present" if key in theirs else MISSING))
    return out


def unexplained(diffs: list[Difference], rows: list[Row]) -> tuple[list[str], list[str]]:
    """(differences no row covers, rows that cover no difference or misstate a value)."""
    missing = [f"| {d.kind} {d.name} | {d.path} | {d.ours[:120]} | {d.theirs[:120]} |"
               for d in diffs if not any(r.covers(d) for r in rows)]
    stale = []
    for row in rows:
        covered = [d for d in diffs if row.covers(d)]
        if not covered:
            stale.append(f"REFERENCE.md:{row.line}: {row.kind} {row.name} {row.path}: "
                         "no such difference any more")
            continue
        exact = [d for d in covered if d.path == row.path]
        for cell, side in ((row.ours, "ours"), (row.theirs, "theirs")):
            value = literal(cell)
            if value is not None and exact and getattr(exact[0], side) != value:
                stale.append(f"REFERENCE.md:{row.line}: {row.path}: {side} is "
                             f"{getattr(exact[0], side)}, not {value}")
    return missing, stale


def what_production_needs(ours: dict[tuple[str, str, str], dict[str, Any]],
                          theirs: dict[tuple[str, str, str], dict[str, Any]]) -> None:
    """Issue #23's acceptance on the reference cluster, beyond "listed in the table"."""
    nhc = ("NodeHealthCheck", "", "far")
    assert ours[nhc]["spec"]["remediationTemplate"] == theirs[nhc]["spec"]["remediationTemplate"]
    # logind applies drop-ins in name order, the last wins: none of ours after the kubelet's.
    dropins = [f["path"] for key, obj in ours.items() if key[0] == "MachineConfig"
               for f in ((obj["spec"].get("config") or {}).get("storage") or {}).get("files", [])
               if f["path"].startswith("/etc/systemd/logind.conf.d/")]
    assert dropins and all(p.rsplit("/", 1)[1] < "99-kubelet.conf" for p in dropins), dropins
    clf = ours[("ClusterLogForwarder", "openshift-logging", "instance")]["spec"]
    lost = [what for what, ev in KEPT.items() if not forwarded(clf, ev)]
    assert not lost, f"the audit pipeline drops: {lost}"
    # The exporter's alerts under the reference's names and groups (its object has another
    # name, so the field comparison does not see them): users' silences and routes match.
    def alerts(obj: dict[str, Any]) -> dict[str, set[str]]:
        return {g["name"]: {r["alert"] for r in g["rules"] if "alert" in r}
                for g in obj["spec"]["groups"]}

    mine = alerts(ours[("PrometheusRule", EXPORTER_NS, EXPORTER_NS)])
    reference = alerts(theirs[("PrometheusRule", EXPORTER_NS, f"{EXPORTER_NS}-alerts")])
    assert set(mine) == set(reference)
    for group, names in reference.items():
        assert names <= mine[group], (group, names - mine[group])
    assert set().union(*mine.values()) - set().union(*reference.values()) == {
        "KMETargetDown", "KMEDegraded"}
    # Accepted by the published SCC CRD, and compliant (every key here is).
    assert ("SecurityContextConstraints", "", "kubevirt-metrics-exporter") in ours
    node_objects = [comparable(o) for key, o in ours.items()
                    if key[0] in ("MachineConfig", "KubeletConfig")]
    if mco_check_available():
        failed = [f"{v.kind}/{v.name}: {v.detail}" for v in mco_check(node_objects) if not v.ok]
        assert not failed, failed


@pytest.mark.timeout(600)
def test_parity_with_the_reference_operator(
    cluster: Any, paths: Any, controller: Any,
) -> None:
    require_reference()
    rows = parse_table(TABLE.read_text(encoding="utf-8"))
    build_reference_cluster(cluster, paths)
    c = controller("--resync-period", "10m", env=IMAGE)
    # Two full passes, each until every managed object is compliant: an object whose
    # asset waited for another (its namespace, its CRD) is in the second set.
    for _ in range(2):
        full_pass(c, Platform(cluster), timeout=240)
        keys = set(eventually_sync(lambda: converged(c), timeout=240,
                                   what="every managed object compliant"))
    theirs = load_reference(REFERENCE / "objects")
    ours = read_ours(cluster, paths, keys, api_versions())
    what_production_needs(ours, theirs)
    missing, stale = unexplained(all_differences(ours, theirs), rows)
    if missing or stale:
        pytest.fail(f"{len(missing)} difference(s) not in REFERENCE.md:\n" + "\n".join(missing)
                    + f"\n{len(stale)} row(s) of REFERENCE.md that no longer hold:\n"
                    + "\n".join(stale), pytrace=False)
