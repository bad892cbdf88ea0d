"""At start each object is watched (and read) once: tombstones, adoption reads and caches.

Counted by the server (kubesim's own count, the real server's audit log) from the
controller's start until it converged, with two of the golden state's tombstoned
ClusterRoleBindings present and not ours: the kind is declared hundreds per cluster,
so its one kind-wide watch, which keeps what the sweep reads of bindings not ours,
answers for its tombstones; the objects whose kind an unselected informer already
caches (the namespaces) are not listed or read again, and the kinds the golden state
declares few per cluster (the HyperConverged, UIPlugins, PersesDashboards,
KubeDeschedulers, KubeletConfigs here) are watched whole by one informer each: no
census, no read, no second watch (the HyperConverged's own, a tombstone's).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.platform import Platform
from tests.support.wait import eventually_sync

UA = "virt-platform-autopilot"  # the controller's User-Agent product
ON = {"platform.kubevirt.io/autopilot": "true",
      "platform.kubevirt.io/enable-ksm-zero-only": "true"}
CRBS = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
# Tombstoned by the golden state (migration from the reference operator).
TOMBSTONED = ("logging-collector-audit", "logging-collector-application")
MONITORING_CONFIG = "/api/v1/namespaces/openshift-monitoring/configmaps/cluster-monitoring-config"
SHARED = "tombstones/rbac.authorization.k8s.io/v1/ClusterRoleBinding"
# Installed here, and declared few per cluster by the golden state.
WATCHED_WHOLE = ("hyperconvergeds", "uiplugins", "persesdashboards", "kubedeschedulers",
                 "kubeletconfigs")


def binding(name: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "x", "namespace": "default"}]}


@pytest.mark.timeout(150)
def test_start_watches_and_reads_each_object_once(platform: Platform, controller: Any,
                                                  cluster: Any) -> None:
    platform.ensure_namespace("openshift-monitoring")
    for name in TOMBSTONED:
        status, body = cluster.api("POST", CRBS, body=binding(name))
        assert status == 201, body
    platform.create_hco(ON)
    before = cluster.request_counts(user_agent=UA)
    c = controller()
    platform.wait_for(MONITORING_CONFIG, timeout=60, what="monitoring config applied")
    for name in TOMBSTONED:
        eventually_sync(lambda name=name: c.metric(
            "virt_platform_tombstone_status", kind="ClusterRoleBinding", name=name) == -2,
            timeout=30, what=f"tombstone {name} skipped (not ours)")
    served = cluster.request_counts(user_agent=UA) - before
    counts = {f"{verb} {resource}": n for (verb, resource, dry), n in served.items()
              if not dry}

    # The managed bindings' kind-wide watch answers for the kind's five tombstones; it
    # lists once, or not at all when it starts with a streaming list, and nothing else
    # lists (no census) or reads.
    assert counts.get("watch clusterrolebindings") == 1, counts
    only_the_informers_read(counts, "clusterrolebindings")
    watching = {line["informer"] for line in c.log_lines("watching")}
    assert SHARED not in watching, watching
    assert not [w for w in watching if w.startswith("tombstone/") and "ClusterRoleBinding" in w]
    # The kinds watched whole: one informer each (the HyperConverged's included; its
    # own watch does not start), adopted from it: no census, no read. A real server may
    # refuse a fresh custom resource's first watch with 429 while its cache fills, so
    # the watches are told by the informers started.
    assert counts.get("patch hyperconvergeds", 0) >= 1, counts
    for resource in WATCHED_WHOLE:
        assert counts.get(f"watch {resource}", 0) >= 1, counts
        assert counts.get(f"list {resource}", 0) == 0, counts
        assert counts.get(f"get {resource}", 0) == 0, counts
    assert "hco" not in watching, watching
    assert not [w for w in watching if w.startswith(("tombstone/", "tombstones/"))
                and any(k in w for k in ("UIPlugin", "PersesDashboard"))], watching
    # The namespaces (absent ones told by the namespaces' watch): no census.
    # One watch: every name, and the labelled ones whole (the managed Namespace kind).
    assert counts.get("watch namespaces") == 1, counts
    assert counts.get("list namespaces", 0) in (0, 2), counts


def only_the_informers_read(counts: dict[str, int], resource: str) -> None:
    """Lists of ``resource`` are its informers' first lists (one each, or none), no GET."""
    assert counts.get(f"list {resource}", 0) in (0, counts.get(f"watch {resource}")), counts
    assert counts.get(f"get {resource}", 0) == 0, counts
