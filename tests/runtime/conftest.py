"""Fixtures for the runtime tests: an API client and a fresh namespace per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from autopilot.kube.client import KubeClient
from autopilot.kube.resources import ResourceInfo

NAMESPACES = ResourceInfo("", "v1", "Namespace", "namespaces", False)
CONFIGMAPS = ResourceInfo("", "v1", "ConfigMap", "configmaps", True)


@pytest.fixture
async def kube(cluster: Any) -> AsyncIterator[KubeClient]:
    """A KubeClient connected through the cluster's kubeconfig."""
    client = await KubeClient.create(str(cluster.kubeconfig))
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def namespace(kube: KubeClient) -> str:
    """A namespace of its own (fresh name: a real API server never finishes deleting)."""
    name = f"rt-{uuid.uuid4().hex[:8]}"
    await kube.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": name}})
    return name
