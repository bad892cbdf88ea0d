"""Fixtures for integration tests: the real controller.

Every test here runs the controller against the fixed HyperConverged namespace and
cluster-scoped golden-state names, so against a real API server each gets a fresh
one (``FIXED_NAME_SUITES`` in ``tests/conftest.py``, which also has the ``platform``
fixture).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import pytest

from tests.support.controller import PROJECT, StartController, controllers
from tests.support.platform import HCO_NS


@pytest.fixture
def controller(cluster: Any) -> Iterator[StartController]:
    """Factory starting `autopilot run` against the cluster; stopped after the test."""
    with controllers(cluster, resync="30s") as start:
        yield start


class Paths:
    """REST paths of objects, learned from the cluster's discovery."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self._plural: dict[tuple[str, str], tuple[str, bool]] = {}

    def of(self, obj: dict[str, Any]) -> str:
        """Path of a rendered object."""
        api_version, kind = obj["apiVersion"], obj["kind"]
        meta = obj.get("metadata") or {}
        plural, namespaced = self._lookup(api_version, kind)
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if namespaced:
            base += f"/namespaces/{meta.get('namespace') or HCO_NS}"
        return f"{base}/{plural}/{meta['name']}"

    def _lookup(self, api_version: str, kind: str) -> tuple[str, bool]:
        key = (api_version, kind)
        if key not in self._plural:
            base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            status, doc = self.cluster.api("GET", base)
            assert status == 200, (base, status)
            for r in doc.get("resources", []):
                if "/" not in r["name"]:
                    self._plural[(api_version, r["kind"])] = (r["name"], bool(r["namespaced"]))
        return self._plural[key]


@pytest.fixture
def paths(cluster: Any) -> Paths:
    return Paths(cluster)


def render_offline(
    annotations: dict[str, str], spec: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """What `autopilot render --hco-file` says the HCO would produce (included assets only)."""
    hco = {
        "apiVersion": "hco.kubevirt.io/v1",
        "kind": "HyperConverged",
        "metadata": {"name": "kubevirt-hyperconverged", "namespace": HCO_NS,
                     "annotations": annotations},
        "spec": spec or {},
    }
    return list(_render(json.dumps(hco)))


@lru_cache(maxsize=16)
def _render(hco_json: str) -> tuple[dict[str, Any], ...]:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(hco_json)
        f.flush()
        out = subprocess.run(
            [sys.executable, "-m", "autopilot", "render", "--hco-file", f.name, "--output",
             "json"],
            cwd=PROJECT, capture_output=True, text=True, check=True, timeout=60,
        )
    data = json.loads(out.stdout)
    items = data.get("items", data) if isinstance(data, dict) else data
    return tuple(i for i in items if isinstance(i, dict))


__all__ = ["Paths", "render_offline"]
