"""An informer's tests' common parts: labelled ConfigMaps, a handler-built mirror, a runner."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from autopilot.kube.client import KubeClient
from autopilot.kube.informer import Informer
from tests.support.kube_resources import CONFIGMAPS

LABEL = "app=chaos"


def cm(name: str, namespace: str, value: str, *, labelled: bool = True) -> dict[str, Any]:
    labels = {"app": "chaos"} if labelled else {"app": "other"}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"v": value},
    }


class Mirror:
    """What a consumer knows, built only from handler calls."""

    def __init__(self) -> None:
        self.objects: dict[str, str] = {}
        self.calls = 0

    def __call__(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self.calls += 1
        name = obj["metadata"]["name"]
        if event == "DELETED":
            self.objects.pop(name, None)
        else:
            self.objects[name] = obj["metadata"]["resourceVersion"]


async def server_state(kube: KubeClient, namespace: str) -> dict[str, str]:
    items, _ = await kube.list(CONFIGMAPS, namespace=namespace, label_selector=LABEL)
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in items}


def cache_state(informer: Informer) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in informer.store.list()}


@contextlib.asynccontextmanager
async def running(informer: Informer) -> Any:
    task = asyncio.create_task(informer.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
