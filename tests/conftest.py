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


@pytest.fixture(scope="session")
def _real_cluster() -> Iterator[Cluster | None]:
    """One real kube-apiserver + etcd per session when KUBEBUILDER_ASSETS provides them."""
    assets = real_assets()
    if assets is None:
        yield None
        return
    with real_cluster(assets) as cluster:
        yield cluster


@pytest.fixture
def cluster(request: pytest.FixtureRequest, _real_cluster: Cluster | None) -> Iterator[Cluster]:
    """The API server for this test: a fresh kubesim, or the session's real server."""
    if _real_cluster is not None:
        if request.node.get_closest_marker("kubesim_only"):
            pytest.skip("needs kubesim; running against a real kube-apiserver")
        yield _real_cluster
        return
    with kubesim_cluster() as c:
        yield c


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` (recordings, CRDs, OpenAPI), or skip when it is absent."""
    return require_shared()
