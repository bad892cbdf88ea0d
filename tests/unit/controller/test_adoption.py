"""Adoption reads: one metadata-only census per kind answers for the objects it lacks.

Runs against kubesim and a real API server alike; requests are counted by the
server (kubesim's own count, the real server's audit log).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from autopilot.controller.adoption import AdoptionReads
from autopilot.kube.client import USER_AGENT, KubeClient
from tests.support.kube_resources import CONFIGMAPS

pytestmark = pytest.mark.real_ok


def configmap(name: str, namespace: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "data": {"k": name}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reads(cluster: Any, before: Any) -> dict[str, int]:
    """The client's reads since ``before``, as 'verb resource' (the test's writes aside)."""
    served = cluster.request_counts(user_agent=USER_AGENT) - before
    return {f"{verb} {resource}": n for (verb, resource, _), n in served.items()
            if verb in ("get", "list", "watch")}


async def test_one_census_answers_for_every_absent_name_and_present_ones_are_read(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    await kube.create(CONFIGMAPS, configmap("unlabelled", namespace))
    clock = Clock()
    adoption = AdoptionReads(client=kube, clock=clock)
    before = cluster.request_counts(user_agent=USER_AGENT)

    # Three workers' first passes at once: one census between them.
    found = await asyncio.gather(*(
        adoption.read(CONFIGMAPS, namespace=namespace, name=n)
        for n in ("absent-a", "absent-b", "absent-c")))
    assert found == [None, None, None]
    assert reads(cluster, before) == {"list configmaps": 1}

    # An object the census saw is read in full: it may be paused or unmanaged.
    live = await adoption.read(CONFIGMAPS, namespace=namespace, name="unlabelled")
    assert live is not None and live["data"] == {"k": "unlabelled"}
    assert reads(cluster, before) == {"list configmaps": 1, "get configmaps": 1}

    # Past its time the census is taken again, and sees what was created since.
    await kube.create(CONFIGMAPS, configmap("absent-a", namespace))
    assert await adoption.read(CONFIGMAPS, namespace=namespace, name="absent-a") is None
    clock.now += adoption.ttl + 0.1
    live = await adoption.read(CONFIGMAPS, namespace=namespace, name="absent-a")
    assert live is not None and live["metadata"]["name"] == "absent-a"
    assert reads(cluster, before) == {"list configmaps": 2, "get configmaps": 2}


async def test_a_kind_larger_than_one_page_is_read_object_by_object(
    cluster: Any, kube: KubeClient, namespace: str
) -> None:
    for name in ("one", "two", "three"):
        await kube.create(CONFIGMAPS, configmap(name, namespace))
    adoption = AdoptionReads(client=kube, page=2)
    before = cluster.request_counts(user_agent=USER_AGENT)
    assert await adoption.read(CONFIGMAPS, namespace=namespace, name="absent") is None
    assert await adoption.read(CONFIGMAPS, namespace=namespace, name="other") is None
    assert reads(cluster, before) == {"list configmaps": 1, "get configmaps": 2}
