"""Fixtures every test may use: the API server (``cluster``) and the shared reference folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import (
    Cluster,
    kubesim_cluster,
    real_assets,
    real_cluster,
    require_shared,
)
from tests.support.webhook import DenyingWebhook, denying_webhook


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The API server for this test: a fresh kubesim, or a fresh real kube-apiserver + etcd.

    Real mode (``KUBEBUILDER_ASSETS`` holding both binaries) starts a new server for
    every test too, so no test can lean on what an earlier one left behind (a real
    server never finishes deleting namespaces without a controller manager).
    """
    assets = real_assets()
    if assets is not None:
        if request.node.get_closest_marker("kubesim_only"):
            pytest.skip("needs kubesim; running against a real kube-apiserver")
        with real_cluster(assets) as real:
            yield real
        return
    with kubesim_cluster() as c:
        yield c


@pytest.fixture
def webhook() -> Iterator[DenyingWebhook]:
    """A validating webhook served on loopback; register it on the cluster to use it."""
    with denying_webhook() as hook:
        yield hook


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` (recordings, CRDs, OpenAPI), or skip when it is absent."""
    return require_shared()
