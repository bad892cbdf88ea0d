"""A watch event of one managed object is judged against the asset's last render.

The reconciler and the object pass run for real (golden state, render, customize,
baselines, edit-war gate); the cluster is a fake that records, in one timeline,
every request and every event, so each test can say what an object key cost:
renders, requests, and in which order the apply and its reports came.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

from structlog.testing import capture_logs

from autopilot.antithrash.detector import EditWarDetector
from autopilot.antithrash.pause import EditWarGate
from autopilot.controller import keys
from autopilot.controller.adoption import AdoptionReads
from autopilot.controller.cache_inputs import CacheInputs
from autopilot.controller.hco_context import ContextReports
from autopilot.controller.object_pass import ObjectPass
from autopilot.controller.progress import Progress
from autopilot.controller.rechecks import Rechecks
from autopilot.controller.reconciler import Reconciler
from autopilot.controller.state import StateBook
from autopilot.controller.sweeper import TombstoneSweeper
from autopilot.golden.catalog import load_golden_state
from autopilot.golden.locate import resolve_golden_state_dir
from autopilot.golden.lookups import OfflineLookups
from autopilot.kube.resources import ResourceInfo
from autopilot.observability.metrics import Metrics

US = "virt-platform-autopilot"
NS = "openshift-cnv"
ASSET = "autopilot-metrics-service"
NAME = "virt-platform-autopilot-metrics"
SERVICES = ResourceInfo(group="", version="v1", kind="Service", plural="services",
                        namespaced=True)
HCO = {"apiVersion": "hco.kubevirt.io/v1", "kind": "HyperConverged",
       "metadata": {"name": "kubevirt-hyperconverged", "namespace": NS, "resourceVersion": "1",
                    "annotations": {"platform.kubevirt.io/autopilot": "true"}},
       "spec": {}}
KEY = keys.object_key(asset=ASSET, group="", kind="Service", namespace=NS, name=NAME)


def fields_of(obj: Any) -> dict[str, Any]:
    """A fieldsV1 tree naming every leaf of ``obj`` (lists as leaves: enough here)."""
    if not isinstance(obj, dict) or not obj:
        return {}
    return {f"f:{k}": fields_of(v) for k, v in obj.items()}


def merged(live: Any, desired: Any) -> Any:
    """Server-side apply's outcome, roughly: our fields set, everything else kept."""
    if not isinstance(live, dict) or not isinstance(desired, dict):
        return copy.deepcopy(desired)
    out = copy.deepcopy(live)
    for k, v in desired.items():
        out[k] = merged(live.get(k), v)
    return out


@dataclass
class Cluster:
    """The API server and the watch caches at once; ``timeline`` is what happened, in order."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeline: list[str] = field(default_factory=list)
    # What the process had logged when each write reached the server (set by a test).
    logs: list[Any] | None = None
    logged_at_write: list[list[str]] = field(default_factory=list)
    nodes_generation: int = 0
    rv: int = 100

    # -- the client -------------------------------------------------------------------

    async def get(self, res: ResourceInfo, name: str,
                  namespace: str | None = None) -> dict[str, Any] | None:
        self.timeline.append("get")
        return copy.deepcopy(self.objects.get(name))

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The adoption census: the names of the kind (only Services here)."""
        self.timeline.append("list")
        return {"metadata": {}, "items": [{"metadata": {"name": n}} for n in self.objects]}

    async def apply(self, res: ResourceInfo, obj: dict[str, Any], *, force: bool = True,
                    dry_run: bool = False) -> dict[str, Any]:
        self.timeline.append("dry-run" if dry_run else "apply")
        if not dry_run:
            self._seen_at_write()
        body = {k: v for k, v in copy.deepcopy(obj).items() if k not in ("apiVersion", "kind")}
        live = self.objects.get(NAME, {"metadata": {"resourceVersion": "0"}})
        out = merged(live, obj)
        # Ours list what we set; the other writers keep their entries (taken fields aside:
        # close enough for these tests, which take only what we set back).
        others = [m for m in live["metadata"].get("managedFields", []) if m["manager"] != US]
        out["metadata"]["managedFields"] = [{"manager": US, "operation": "Apply",
                                             "fieldsType": "FieldsV1",
                                             "fieldsV1": fields_of(body)}] + [
            m for m in others if m["manager"] != "kubectl-patch"]
        if not dry_run:
            self.store(out)
        return out

    def store(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A write: a new resourceVersion (the watch cache sees it at once)."""
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.objects[obj["metadata"]["name"]] = obj
        return obj

    async def patch(self, res: ResourceInfo, name: str, body: Any, *,
                    namespace: str | None = None) -> dict[str, Any]:
        self.timeline.append("patch")
        self._seen_at_write()
        return {}

    def _seen_at_write(self) -> None:
        """The moment a write lands: whoever reads the object sees it from now on."""
        if self.logs is not None:
            self.logged_at_write.append([str(e["event"]) for e in self.logs])

    # -- the event sink ---------------------------------------------------------------

    def emit(self, regarding: dict[str, Any], *, type: str, reason: str, note: str,
             action: str) -> None:
        self.timeline.append(f"event {reason}")

    # -- the cache view ---------------------------------------------------------------

    def hco(self) -> dict[str, Any] | None:
        return HCO

    def hco_unknown(self) -> str | None:
        return None

    def nodes(self) -> list[dict[str, Any]]:
        return []

    def config_object(self, kind: str) -> dict[str, Any] | None:
        return None

    def resource_for(self, api_version: str, kind: str) -> ResourceInfo | None:
        return SERVICES if (api_version, kind) == ("v1", "Service") else None

    def crd_exists(self, name: str) -> bool:
        return False

    def cached_object(self, res: ResourceInfo, *, namespace: str,
                      name: str) -> dict[str, Any] | None:
        return self.objects.get(name)

    def namespace_exists(self, name: str) -> bool | None:
        return True

    @property
    def requests(self) -> list[str]:
        return [x for x in self.timeline if not x.startswith("event")]


class Counting(Reconciler):
    renders = 0
    # A copy of the latest render's objects, taken before any pass saw them.
    as_rendered: list[dict[str, Any]] = []

    def plan(self, *args: Any, **kwargs: Any) -> Any:
        self.renders += 1
        out = super().plan(*args, **kwargs)
        self.as_rendered = copy.deepcopy(out.objects)
        return out


def build(cluster: Cluster, *, pending: set[str] | None = None) -> Counting:
    golden = load_golden_state(resolve_golden_state_dir(None))
    metrics, book = Metrics(), StateBook()
    gate = EditWarGate(client=cluster, events=cluster, metrics=metrics,  # type: ignore[arg-type]
                       detector=EditWarDetector())
    objects = ObjectPass(client=cluster, view=cluster, events=cluster,  # type: ignore[arg-type]
                         metrics=metrics, book=book, rechecks=Rechecks(resumable=gate),
                         edit_war=gate, adoption=AdoptionReads(client=cluster))  # type: ignore[arg-type]
    progress = Progress(asset_count=len(golden.assets), events=cluster, metrics=metrics,
                        compliant_count=lambda: 0)
    sweeper = TombstoneSweeper(tombstones=(), client=cluster,  # type: ignore[arg-type]
                               view=cluster, events=cluster, metrics=metrics)
    waiting = pending if pending is not None else set()
    return Counting(golden=golden, view=cluster, book=book, objects=objects, sweeper=sweeper,
                    inputs=CacheInputs(view=cluster, namespace=NS, lookups=OfflineLookups(),
                                       environ={}),
                    progress=progress, reports=ContextReports(events=cluster),
                    pending=waiting.__contains__)


def converged() -> tuple[Cluster, Counting]:
    """The asset's first pass created the Service, and its own watch event was seen."""
    cluster = Cluster()
    rec = build(cluster)
    asyncio.run(rec.reconcile(keys.asset_key(ASSET)))
    assert cluster.requests == ["list", "apply"] and rec.renders == 1, cluster.timeline
    cluster.timeline.clear()
    return cluster, rec


def tamper(cluster: Cluster, *, app: str = "someone-else") -> None:
    """Another writer's update: takes ``spec.selector.app`` from us."""
    live = copy.deepcopy(cluster.objects[NAME])
    live["spec"]["selector"]["app"] = app
    ours = live["metadata"]["managedFields"][0]["fieldsV1"]
    del ours["f:spec"]["f:selector"]
    live["metadata"]["managedFields"].append(
        {"manager": "kubectl-patch", "operation": "Update", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:spec": {"f:selector": {"f:app": {}}}}})
    cluster.store(live)


def test_our_own_echo_costs_no_render_and_no_request() -> None:
    cluster, rec = converged()
    asyncio.run(rec.reconcile(KEY))
    assert rec.renders == 1 and cluster.timeline == []


def test_drift_is_applied_first_without_a_dry_run_and_reported_after() -> None:
    cluster, rec = converged()
    tamper(cluster)
    asyncio.run(rec.reconcile(KEY))
    assert rec.renders == 1, "the object was judged against the last render"
    assert cluster.timeline[0] == "apply", cluster.timeline
    assert "dry-run" not in cluster.timeline
    assert "event DriftDetected" in cluster.timeline[1:]
    assert "event DriftCorrected" in cluster.timeline[1:]
    assert cluster.objects[NAME]["spec"]["selector"]["app"] == "virt-platform-autopilot"
    st = rec.book.find(next(iter(rec.book.asset_objects(ASSET))))
    assert st is not None and st.compliance == 1
    assert st.last_diff == ("/spec/selector/app",)
    # The restore's own echo is free again.
    cluster.timeline.clear()
    asyncio.run(rec.reconcile(KEY))
    assert cluster.timeline == [] and rec.renders == 1


def test_a_change_of_an_input_renders_again() -> None:
    cluster, rec = converged()
    cluster.nodes_generation += 1  # a node change detection reads
    tamper(cluster)
    asyncio.run(rec.reconcile(KEY))
    assert rec.renders == 2
    # The full pass checks server-side before it writes.
    assert cluster.requests == ["dry-run", "apply"], cluster.timeline


def test_a_change_outside_our_fields_takes_the_dry_run_and_writes_nothing() -> None:
    cluster, rec = converged()
    live = copy.deepcopy(cluster.objects[NAME])
    live["metadata"]["labels"]["team"] = "storage"
    cluster.store(live)
    asyncio.run(rec.reconcile(KEY))
    assert rec.renders == 1 and cluster.requests == ["dry-run"], cluster.timeline
    # Found in sync: the same version again costs nothing.
    cluster.timeline.clear()
    asyncio.run(rec.reconcile(KEY))
    assert cluster.timeline == []


def test_a_status_only_change_is_judged_in_sync_without_a_request() -> None:
    cluster, rec = converged()
    live = copy.deepcopy(cluster.objects[NAME])
    live["status"] = {"loadBalancer": {}}
    cluster.store(live)
    asyncio.run(rec.reconcile(KEY))
    assert rec.renders == 1 and cluster.timeline == []


def test_the_users_patch_annotation_still_holds_on_the_quick_path() -> None:
    cluster, rec = converged()
    live = copy.deepcopy(cluster.objects[NAME])
    patch = '[{"op": "replace", "path": "/spec/selector/app", "value": "mine"}]'
    live["metadata"].setdefault("annotations", {})["platform.kubevirt.io/patch"] = patch
    cluster.store(live)
    asyncio.run(rec.reconcile(KEY))
    # Another desired object (the patch applies): the server decides, then the write.
    assert cluster.requests == ["dry-run", "apply"], cluster.timeline
    assert cluster.objects[NAME]["spec"]["selector"]["app"] == "mine"
    assert rec.renders == 1


def test_a_paused_object_is_left_alone_on_the_quick_path() -> None:
    cluster, rec = converged()
    tamper(cluster)
    live = cluster.objects[NAME]
    live["metadata"].setdefault("annotations", {})["platform.kubevirt.io/reconcile-paused"] = (
        "true")
    asyncio.run(rec.reconcile(KEY))
    assert cluster.timeline == []
    assert cluster.objects[NAME]["spec"]["selector"]["app"] == "someone-else"


def test_an_asset_pass_due_covers_the_object() -> None:
    cluster = Cluster()
    pending: set[str] = set()
    rec = build(cluster, pending=pending)
    asyncio.run(rec.reconcile(keys.asset_key(ASSET)))
    cluster.timeline.clear()
    tamper(cluster)
    pending.add(keys.asset_key(ASSET))
    asyncio.run(rec.reconcile(KEY))
    assert cluster.timeline == [] and rec.renders == 1


def test_a_counted_flip_is_logged_before_the_write_that_corrects_it() -> None:
    # The quick pass writes its drift report after the apply, but not the owner flip:
    # whoever sees the correction on the server (an SRE, the edit-war tests) finds the
    # flip it counted already in the log, up to the one that pauses the object.
    cluster, rec = converged()
    with capture_logs() as logs:
        cluster.logs = logs
        for n in range(1, 6):
            tamper(cluster, app=f"someone-else-{n}")
            asyncio.run(rec.reconcile(KEY))
    flips_at_write = [[e for e in seen if e == "owner flip"] for seen in
                      cluster.logged_at_write]
    assert cluster.requests.count("apply") == 4 and cluster.requests[-1] == "patch", (
        cluster.timeline)
    assert [len(f) for f in flips_at_write] == [1, 2, 3, 4, 5], cluster.logged_at_write
    assert "dry-run" not in cluster.timeline


def test_no_pass_writes_into_the_render_it_judges_against() -> None:
    # customize shares all but the path to the ownership label with the intent's render:
    # a pass that wrote into what it was handed would change the next verdict.
    cluster, rec = converged()
    intent = rec.intents._by_asset[ASSET]
    tamper(cluster)
    asyncio.run(rec.reconcile(KEY))
    live = copy.deepcopy(cluster.objects[NAME])
    live["metadata"].setdefault("annotations", {}).update({
        "platform.kubevirt.io/patch":
            '[{"op": "add", "path": "/metadata/labels/team", "value": "mine"}]',
        "platform.kubevirt.io/ignore-fields": "/spec/selector/app"})
    live["spec"]["selector"]["app"] = "theirs"
    cluster.store(live)
    asyncio.run(rec.reconcile(KEY))
    assert cluster.objects[NAME]["metadata"]["labels"]["team"] == "mine", cluster.timeline
    assert rec.renders == 1 and rec.intents._by_asset[ASSET] is intent
    assert [obj for obj, _ in intent.objects.values()] == rec.as_rendered
