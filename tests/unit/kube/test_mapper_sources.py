"""Where the controller's kind map comes from: a table of built-ins, the CRDs' watch,
and discovery only for the rest."""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.controller.watches import served_by
from autopilot.kube.builtins import BUILTIN_RESOURCES
from autopilot.kube.client import KubeClient
from autopilot.kube.discovery import RestMapper
from autopilot.kube.resources import ResourceInfo

WIDGETS = ResourceInfo("widgets.test", "v1", "Widget", "widgets", True)


def widget_crd(*, established: bool = True, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "widgets.widgets.test"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "spec": {"group": "widgets.test", "scope": "Namespaced",
                 "names": {"kind": "Widget", "plural": "widgets"},
                 "versions": [{"name": "v1", "served": True}, {"name": "v0", "served": False}]},
        "status": {"conditions": [{"type": "Established",
                                   "status": "True" if established else "False"}]},
    }


class NoServer:
    """A client that must not be asked anything."""

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"unexpected request {args}")


def test_a_crd_serves_its_served_versions_once_established_and_until_deleted() -> None:
    assert served_by(widget_crd()) == [WIDGETS]
    assert served_by(widget_crd(established=False)) == []
    assert served_by(widget_crd(deleting=True)) == []  # going away: its objects too


async def test_builtins_and_crds_answer_without_a_request() -> None:
    mapper = RestMapper(NoServer(), builtins=BUILTIN_RESOURCES)  # type: ignore[arg-type]
    assert mapper.lookup("v1", "ConfigMap") == ResourceInfo("", "v1", "ConfigMap",
                                                            "configmaps", True)
    assert mapper.lookup(WIDGETS.api_version, "Widget") is None
    mapper.serve_crd("widgets.widgets.test", [WIDGETS])
    assert mapper.lookup(WIDGETS.api_version, "Widget") == WIDGETS
    await mapper.refresh_for([("v1", "ConfigMap"), (WIDGETS.api_version, "Widget")])
    mapper.serve_crd("widgets.widgets.test", ())  # deleted
    assert mapper.lookup(WIDGETS.api_version, "Widget") is None


@pytest.mark.real_ok
async def test_the_builtin_table_says_what_the_server_serves(kube: KubeClient) -> None:
    discovered = RestMapper(kube)
    await discovered.refresh()
    for res in BUILTIN_RESOURCES:
        assert discovered.lookup(res.api_version, res.kind) == res


@pytest.mark.real_ok
async def test_a_withdrawn_crd_is_not_brought_back_by_discovery(kube: KubeClient) -> None:
    # Discovery still listing a CRD's kind (it follows the CRD a moment later) must not
    # bring back a kind whose CRD the watch said was deleted.
    mapper = RestMapper(kube, min_refresh_interval=0.0)
    await mapper.refresh()
    lease = mapper.lookup("coordination.k8s.io/v1", "Lease")
    assert lease is not None
    name = RestMapper.crd_name_for(lease)
    assert name is not None
    mapper.serve_crd(name, ())  # as if leases were a CRD that went away
    await mapper.refresh_for([("coordination.k8s.io/v1", "Lease")])
    assert mapper.lookup("coordination.k8s.io/v1", "Lease") is None
