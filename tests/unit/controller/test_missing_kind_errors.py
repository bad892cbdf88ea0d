"""An apply to a kind whose CRD just went away says so in the words the runbook greps for.

The window is real: the managed object's informer sees the object deleted with its
CRD and queues a pass before discovery has caught up, so the pass still holds the
old resource and applies to it. The API server then answers a bare "404 page not
found"; the log line, the ApplyFailed event and the object's last error (what
``/debug/explain`` and ``autopilot explain`` show) must name the kind, its version
and the CRD instead. Runs against kubesim and a real API server alike.
"""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from autopilot.antithrash.pause import EditWarGate
from autopilot.controller.adoption import AdoptionReads
from autopilot.controller.object_pass import ObjectPass, Outcome
from autopilot.controller.rechecks import Rechecks
from autopilot.controller.state import StateBook
from autopilot.kube.client import KubeClient
from autopilot.kube.resources import ObjectRef, ResourceInfo
from autopilot.observability.metrics import Metrics
from tests.support.platform import Platform

KUBELETCONFIGS = ResourceInfo("machineconfiguration.openshift.io", "v1", "KubeletConfig",
                              "kubeletconfigs", False)
DESIRED = {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "KubeletConfig",
           "metadata": {"name": "virt-perf-settings"},
           "spec": {"kubeletConfig": {"maxPods": 500}}}
GREPPED = ('no matches for kind "KubeletConfig" in version '
           '"machineconfiguration.openshift.io/v1"')
CRD = "kubeletconfigs.machineconfiguration.openshift.io"


class StaleView:
    """A cache view that has not noticed yet: the object is simply not cached."""

    def cached_object(self, res: ResourceInfo, *, namespace: str, name: str
                      ) -> dict[str, Any] | None:
        return None

    def namespace_exists(self, name: str) -> bool | None:
        return True


class Events:
    def __init__(self) -> None:
        self.notes: list[tuple[str, str]] = []

    def emit(self, regarding: dict[str, Any], *, type: str, reason: str, note: str,
             action: str) -> None:
        self.notes.append((reason, note))


@pytest.mark.real_ok
async def test_apply_after_the_crd_went_away_names_kind_version_and_crd(
        cluster: Any, kube: KubeClient) -> None:
    Platform(cluster).install("KubeletConfig")
    events, book, metrics = Events(), StateBook(), Metrics()
    gate = EditWarGate(client=kube, events=events, metrics=metrics)  # type: ignore[arg-type]
    objects = ObjectPass(client=kube, view=StaleView(), events=events,  # type: ignore[arg-type]
                         metrics=metrics, book=book, rechecks=Rechecks(resumable=gate),
                         edit_war=gate, adoption=AdoptionReads(client=kube))
    applied = await objects.run(asset="kubelet-performance-kubeletconfig", desired=DESIRED,
                                res=KUBELETCONFIGS)
    assert applied.outcome is Outcome.APPLIED, applied
    cluster.delete_crds(CRD)

    with structlog.testing.capture_logs() as logs:
        result = await objects.run(asset="kubelet-performance-kubeletconfig", desired=DESIRED,
                                   res=KUBELETCONFIGS)
    assert result.outcome is Outcome.FAILED
    [line] = [entry for entry in logs if entry["event"] == "failed to apply"]
    notes = [note for reason, note in events.notes if reason == "ApplyFailed"]
    last_error = book.object(ObjectRef.of(DESIRED), asset="x").last_error
    for where, text in (("log", line["error"]), ("event", notes[-1]),
                        ("last error", last_error), ("result", result.error)):
        assert GREPPED in text and CRD in text, (where, text)
    # The server's own words stay, after the translation.
    assert text.endswith("(the API server answered: 404 page not found)"), text
