"""The edit-war gate's own decisions, with a fake API client and a fake clock.

The integration tests fight real objects; these cover what a live cluster makes
hard to provoke: a pause patch the server refuses, a cache still showing the
object unpaused after our pause, and a throttle-triggered pause with no other
field manager to name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autopilot.antithrash.budget import ThrashGuard
from autopilot.antithrash.detector import EditWarDetector
from autopilot.antithrash.pause import FAILED, PAUSED, THROTTLED, EditWarGate
from autopilot.kube.client import ApiError
from autopilot.kube.resources import ObjectRef, ResourceInfo
from autopilot.observability.metrics import Metrics

US = "virt-platform-autopilot"
RES = ResourceInfo(group="", version="v1", kind="ConfigMap", plural="configmaps",
                   namespaced=True)
REF = ObjectRef("v1", "ConfigMap", "cm", "ns")
OURS = {"f:data": {"f:a": {}}}


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeClient:
    refuse: int = 0  # refuse this many pause patches
    patches: list[Any] = field(default_factory=list)

    async def patch(self, res: ResourceInfo, name: str, body: Any, *,
                    namespace: str | None = None) -> dict[str, Any]:
        self.patches.append(body)
        if self.refuse:
            self.refuse -= 1
            raise ApiError(status=403, reason="Forbidden", message="patch is forbidden")
        return {}


@dataclass
class Sink:
    events: list[dict[str, Any]] = field(default_factory=list)

    def emit(self, regarding: dict[str, Any], *, type: str, reason: str, note: str,
             action: str) -> None:
        self.events.append({"type": type, "reason": reason, "note": note})


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **kw: Any) -> None:
        self.lines.append((event, kw))

    warning = info


def cm(a: str, *managed: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "ns", "managedFields": list(managed)},
            "data": {"a": a}}


def mf(manager: str, operation: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "time": "2026-11-30T13:00:00Z",
            "fieldsType": "FieldsV1", "fieldsV1": fields}


TAKEN = cm("theirs", mf("kubectl-patch", "Update", OURS))
DRY = cm("1", mf(US, "Apply", OURS))
RESTORED = cm("1", mf(US, "Apply", OURS))


@dataclass
class Rig:
    gate: EditWarGate
    client: FakeClient
    sink: Sink
    metrics: Metrics
    clock: Clock


def make(refuse: int = 0) -> Rig:
    clock = Clock()
    client, sink, metrics = FakeClient(refuse=refuse), Sink(), Metrics()
    gate = EditWarGate(client=client, events=sink, metrics=metrics,  # type: ignore[arg-type]
                       detector=EditWarDetector(clock=clock),
                       guard=ThrashGuard(clock=clock))
    return Rig(gate, client, sink, metrics, clock)


async def check(gate: EditWarGate, live: dict[str, Any] | None = TAKEN,
                log: Log | None = None) -> Any:
    return await gate.check(ref=REF, live=live, dry_run=DRY if live else None, res=RES,
                            regarding=live or DRY, blog=log or Log())


def thrashing(metrics: Metrics) -> float | None:
    return metrics.value("virt_platform_thrashing_total", kind="ConfigMap", name="cm",
                         namespace="ns")


async def test_a_refused_pause_is_retried_and_counted_once() -> None:
    rig = make(refuse=1)
    gate, client, sink, metrics, clock = rig.gate, rig.client, rig.sink, rig.metrics, rig.clock
    for _ in range(4):
        assert await check(gate) is None
        gate.applied(REF, RESTORED)
        clock.now += 1
    stop = await check(gate)
    assert stop is not None and (stop.kind, stop.error) == (FAILED, "patch is forbidden")
    assert thrashing(metrics) is None and not sink.events
    # The next pass over the still-contested object pauses it, and counts it once.
    log = Log()
    stop = await check(gate, log=log)
    assert stop is not None and stop.kind == PAUSED
    assert len(client.patches) == 2 and thrashing(metrics) == 1
    [event] = sink.events
    assert event["reason"] == "ThrashingDetected" and event["type"] == "Warning"
    assert event["note"].startswith("edit war with kubectl-patch (Update) over data.a; "
                                    "5 owner flips in 4.0 s.")
    [(_, fields)] = [line for line in log.lines if line[0].startswith("edit war detected")]
    assert fields["other_managers"] == ["kubectl-patch"] and fields["trigger"] == "flips"


async def test_a_lagging_cache_neither_writes_nor_counts_again() -> None:
    rig = make()
    gate, client, sink, metrics = rig.gate, rig.client, rig.sink, rig.metrics
    for _ in range(5):
        stop = await check(gate)
        if stop is None:
            gate.applied(REF, RESTORED)
    assert stop is not None and stop.kind == PAUSED and gate.paused_here(REF)
    for _ in range(3):  # passes that still read the object from before our pause
        stop = await check(gate)
        assert stop is not None and stop.kind == PAUSED
    assert len(client.patches) == 1 and thrashing(metrics) == 1 and len(sink.events) == 1
    gate.reset(REF)  # the user removed the annotation
    assert not gate.paused_here(REF)
    assert await check(gate) is None  # a fresh window: flip 1 again, and a full bucket


async def test_throttles_pause_even_without_another_field_manager() -> None:
    # A desired state that keeps changing (or a writer using our own manager name):
    # no flip is ever seen, the bucket runs dry and three throttles pause.
    rig = make()
    gate, sink, clock = rig.gate, rig.sink, rig.clock
    mine = cm("x", mf(US, "Apply", OURS))
    kinds = []
    for _ in range(13):
        stop = await gate.check(ref=REF, live=mine, dry_run=DRY, res=RES, regarding=mine,
                                blog=Log())
        kinds.append(stop.kind if stop else None)
        if stop is None:
            gate.applied(REF, RESTORED)
        clock.now += 0.1
    assert kinds == [None] * 10 + [THROTTLED, THROTTLED, PAUSED]
    assert [e["reason"] for e in sink.events] == ["Throttled", "Throttled", "ThrashingDetected"]
    assert sink.events[-1]["note"].startswith("edit war with an unknown writer")
    assert "3 applies throttled within 1 min of each other" in sink.events[-1]["note"]


async def test_a_missing_object_is_throttled_but_never_paused() -> None:
    # Nothing to annotate: recreating a deleted object is only rate-limited.
    rig = make()
    gate, client, metrics = rig.gate, rig.client, rig.metrics
    kinds = []
    for _ in range(14):
        stop = await check(gate, live=None)
        kinds.append(stop.kind if stop else None)
    assert kinds == [None] * 10 + [THROTTLED] * 4
    assert not client.patches and thrashing(metrics) is None
