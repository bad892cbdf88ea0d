"""The kubesim fidelity tests' shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.cluster import Cluster
from tests.support.uid_answers import configmap


@pytest.fixture
def existing(cluster: Cluster) -> Iterator[tuple[str, dict[str, Any]]]:
    """A namespace's ConfigMaps path and one ConfigMap ``e1`` in it, as created."""
    base = f"/api/v1/namespaces/{cluster.new_namespace('uid')}/configmaps"
    status, created = cluster.api("POST", base, body=configmap("e1"))
    assert status == 201, created
    yield base, created
