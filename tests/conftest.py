"""Fixtures every test may use: the API server (``cluster``), its faults, the shared folder.

Against kubesim every test gets a fresh server. Against a real kube-apiserver
(``KUBEBUILDER_ASSETS``) tests share one server per session, the way envtest suites
do, isolated by namespaces and names of their own; a test marked ``fresh_server``
gets a pristine server of its own instead (see ``pyproject.toml`` for the markers).

CI runs the suite in pytest-xdist worker processes (``.ci/test``), tests of different
files side by side. What keeps a test correct beside others:

* Session fixtures are per worker (one shared real server per worker, for instance):
  never assume one process sees the whole run, nor keep tallies in module globals for
  the end of the run; what the summary needs travels in ``user_properties``
  (``tests/support/report.py``).
* Ports come from ``free_port()`` (the kernel picks), files from ``tmp_path`` or
  ``tempfile``: never a fixed port, a fixed /tmp name, or a write into the checkout.
* Cluster-scoped names and objects on the shared real server get a unique suffix;
  state that cannot be shared needs ``fresh_server`` (kubesim is always fresh).
* An expensive module-scoped fixture (a wheel build) would be built again in each
  worker running one of its tests: mark the module ``pytest.mark.xdist_group(name)``
  so ``--dist loadgroup`` keeps its tests on one worker.
* Timing: another test's CPU load runs beside yours. Wait on conditions with
  deadlines that bound the behaviour, never a fixed sleep; a per-call timeout shorter
  than the work under load is a flake, not a tighter test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from autopilot.kube.client import KubeClient
from kubesim.controls import Controls
from tests.support import report as reporting
from tests.support.cluster import (
    IN_CI,
    TOKENS,
    Cluster,
    cluster_on,
    kubesim_cluster,
    real_assets,
    require_shared,
)
from tests.support.kube_resources import NAMESPACES
from tests.support.platform import BASE_KINDS, Platform
from tests.support.realserver import assets_problem
from tests.support.servers import ServerPool
from tests.support.tools import require_tool
from tests.support.webhook import VWC, DenyingWebhook, denying_webhook

MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--api-server-tests", action="store_true",
                     help="run only the tests that talk to an API server (CI's real stage)")


def pytest_configure(config: pytest.Config) -> None:
    # The real stage must never quietly test kubesim twice: without both binaries
    # every `cluster` would be a kubesim one and the stage would pass proving nothing.
    if config.getoption("--api-server-tests"):
        problem = assets_problem()
        if problem:
            raise pytest.UsageError(
                f"--api-server-tests needs a real kube-apiserver: {problem}")


# Suites whose every test runs the controller against the fixed HyperConverged
# namespace and cluster-scoped golden-state names: on a real API server each test
# gets a server of its own.
FIXED_NAME_SUITES = tuple(Path(__file__).parent / d for d in ("integration", "reliability"))


def _scale_timeouts(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Multiply every test's timeout by ``TEST_TIMEOUT_SCALE`` (CI sets it).

    The timeouts catch hangs, not slowness: on a machine shared with other work every
    test may take a few times its quiet duration, and a test killed mid-way by its
    timeout says nothing about the behaviour it checks.
    """
    scale = float(os.environ.get("TEST_TIMEOUT_SCALE") or 1)
    if scale == 1:
        return
    default = float(config.getini("timeout") or 0)
    for item in items:
        marker = item.get_closest_marker("timeout")
        seconds = float(marker.args[0]) if marker and marker.args else default
        if seconds:
            item.add_marker(pytest.mark.timeout(seconds * scale), append=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _scale_timeouts(config, items)
    for item in items:
        if any(suite in item.path.parents for suite in FIXED_NAME_SUITES) \
                and not item.get_closest_marker("fresh_server"):
            item.add_marker(pytest.mark.fresh_server("fixed golden-state names"))
    if not config.getoption("--api-server-tests"):
        return
    keep, drop = [], []
    for item in items:
        uses = "cluster" in getattr(item, "fixturenames", ()) or item.get_closest_marker(
            "apiserver")
        (keep if uses else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("needs_tool"):
        for tool in marker.args:
            require_tool(tool)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    reporting.record(report)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if real_assets() is not None:
        for line in reporting.summary():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def real_servers() -> Iterator[ServerPool]:
    """The session's real API servers: the shared one and fresh ones (real mode only)."""
    assets = real_assets()
    assert assets is not None
    pool = ServerPool(assets, TOKENS)
    yield pool
    pool.close()


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The API server for this test.

    kubesim: a fresh one. Real: the shared server, or a fresh one for tests marked
    ``fresh_server`` (``compaction=True``: one that compacts etcd every second). A test
    asking for the ``faults`` fixture reaches the server through the fault proxy.
    """
    _check_selected_by_real_stage(request)
    faults = "faults" in request.fixturenames
    assets = real_assets()
    if assets is None:
        with kubesim_cluster(faults=faults) as c:
            yield c
        return
    if request.node.get_closest_marker("kubesim_only"):
        why = "needs kubesim; running against a real kube-apiserver"
        if IN_CI:
            pytest.fail(f"{why}: give the test a real-mode variant (CI skips none)")
        pytest.skip(why)
    pool: ServerPool = request.getfixturevalue("real_servers")
    fresh = request.node.get_closest_marker("fresh_server")
    if fresh is not None:
        with pool.fresh(compaction=bool(fresh.kwargs.get("compaction"))) as server, \
                cluster_on(server, faults=faults) as c:
            reporting.served(request.node, "fresh")
            yield c
        return
    with cluster_on(pool.shared(), faults=faults, shared=True) as c:
        reporting.served(request.node, "shared")
        yield c
        _check_left_clean(c)


def _check_selected_by_real_stage(request: pytest.FixtureRequest) -> None:
    """A test asking for ``cluster`` at run time needs the ``apiserver`` marker.

    The real stage selects tests by their declared fixtures and markers before they
    run; one that fetches ``cluster`` through ``getfixturevalue`` unmarked would be
    dropped there and prove things about kubesim only.
    """
    item = request.node
    if "cluster" not in item._fixtureinfo.names_closure and not item.get_closest_marker(
            "apiserver"):
        pytest.fail(f"{item.nodeid} asks for `cluster` at run time without the `apiserver`"
                    " marker: the real API-server stage would leave it out")


def _check_left_clean(c: Cluster) -> None:
    """A test on the shared server must not leave it broken or holding webhooks."""
    assert c.server is not None
    if c._faults is not None:
        c._faults.reset()  # the checks below go through the proxy too
    problem = c.server.problem()
    if problem:
        pytest.fail(f"the shared API server died during the test: {problem}")
    left = []
    for base in (VWC, MWC):
        status, listing = c.api("GET", base)
        for item in listing.get("items", []) if status == 200 else []:
            name = item["metadata"]["name"]
            left.append(name)
            c.api("DELETE", f"{base}/{name}")
    if left:
        pytest.fail(f"webhook configurations left on the shared server: {left}")


@pytest.fixture
def platform(cluster: Cluster) -> Platform:
    """The base platform's CRDs installed in the cluster; no HCO yet."""
    p = Platform(cluster)
    p.install(*BASE_KINDS)
    return p


@pytest.fixture
def faults(cluster: Cluster) -> Controls:
    """API faults for this test: kubesim's controls, or the proxy's before a real server."""
    return cluster.faults


@pytest.fixture
def webhook(cluster: Cluster) -> Iterator[DenyingWebhook]:
    """A validating webhook served on loopback; its registrations are removed afterwards."""
    with denying_webhook() as hook:
        yield hook
        hook.unregister_all(cluster)


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` (recordings, CRDs, OpenAPI), or skip when it is absent."""
    return require_shared()


@pytest.fixture
async def kube(cluster: Any) -> AsyncIterator[KubeClient]:
    """The controller's API client connected through the cluster's kubeconfig."""
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
