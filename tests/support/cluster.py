"""The API server tests run against: kubesim by default, a real one with KUBEBUILDER_ASSETS.

``Cluster`` is what the ``cluster`` fixture hands to tests: where the server is,
a kubeconfig for it, a ``kubectl`` runner and a tiny synchronous HTTP helper.
Against a real kube-apiserver ``sim`` is None; tests drive API faults through
``faults`` (the ``faults`` fixture), which is kubesim's controls in kubesim mode
and a fault-injecting proxy in front of the real server otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kubesim import KubeSim
from kubesim.controls import Controls
from kubesim.kubeconfig import kubeconfig_text
from kubesim.loader import load_crds
from tests.support.audit import AuditLog
from tests.support.faultproxy import FaultProxy
from tests.support.realserver import RealServer, Token, free_port, real_assets, real_server
from tests.support.tools import IN_CI
from tests.support.wait import eventually_sync

__all__ = ["IN_CI", "Cluster", "free_port", "kubesim_cluster", "real_assets", "real_cluster",
           "require_shared"]

PROJECT = Path(__file__).resolve().parents[2]
SHARED = PROJECT.parent / "shared"
CRDS = SHARED / "crds"
FIXTURES = SHARED / "kube-fixtures"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"

ADMIN_TOKEN = "kubesim-token"
ADMIN_USER = "autopilot-test"
OTHER_TOKEN = "kubesim-other-token"
OTHER_USER = "other-user"
# The controller's shipped identity, authorised by RBAC only (not system:masters).
SA_NAMESPACE = "openshift-cnv"
SA_TOKEN = "autopilot-sa-token"
SA_USER = f"system:serviceaccount:{SA_NAMESPACE}:virt-platform-autopilot"
SA_GROUPS = ("system:serviceaccounts", f"system:serviceaccounts:{SA_NAMESPACE}")
# A plain user outside every group but system:authenticated: refused unless granted.
LIMITED_TOKEN = "autopilot-limited-token"
LIMITED_USER = "limited-user"
SUPERUSERS = ("system:masters",)
TOKENS = (Token(ADMIN_TOKEN, ADMIN_USER, "1001", SUPERUSERS),
          Token(OTHER_TOKEN, OTHER_USER, "1002", SUPERUSERS),
          Token(SA_TOKEN, SA_USER, "1003", SA_GROUPS),
          Token(LIMITED_TOKEN, LIMITED_USER, "1004"))


def require_shared() -> Path:
    """The shared reference folder, or skip the test saying why."""
    if not SHARED.is_dir():
        pytest.skip(f"reference folder {SHARED} is absent (recordings, CRDs)")
    return SHARED


@dataclass
class Cluster:
    """One API server as a test sees it (through the fault proxy when it asked for faults)."""

    url: str
    kubeconfig: Path
    token: str
    mode: str  # "kubesim" | "real"
    sim: KubeSim | None
    workdir: Path
    ca_pem: bytes | None = None
    server: RealServer | None = None
    shared: bool = False  # a real server other tests use too
    controller_user: str = ADMIN_USER
    other_token: str = OTHER_TOKEN
    other_user: str = OTHER_USER
    sa_token: str = SA_TOKEN
    sa_user: str = SA_USER
    limited_token: str = LIMITED_TOKEN
    limited_user: str = LIMITED_USER
    _tls: ssl.SSLContext | None = field(default=None, repr=False)
    _faults: Controls | None = field(default=None, repr=False)

    @property
    def faults(self) -> Controls:
        """The fault controls: kubesim's own, or the proxy's in front of a real server."""
        if self._faults is None:
            raise RuntimeError("ask for the `faults` fixture: against a real server the "
                               "test's clients must reach it through the fault proxy")
        return self._faults

    def require_sim(self) -> KubeSim:
        """kubesim (for its internals), or skip against a real API server (fails in CI)."""
        if self.sim is None:
            why = "needs kubesim; running against a real kube-apiserver"
            if IN_CI:
                pytest.fail(f"{why}: give the test a real-mode variant (CI skips none)")
            pytest.skip(why)
        return self.sim

    def new_namespace(self, prefix: str = "t") -> str:
        """Create a namespace of a fresh name (a real server never finishes deleting one)."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        status, body = self.api("POST", "/api/v1/namespaces", body={
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        assert status == 201, body
        return name

    # -- clients --------------------------------------------------------------------------

    def kubeconfig_for(self, token: str, user: str) -> Path:
        """Another kubeconfig for the same server, authenticating with ``token``."""
        path = self.workdir / f"kubeconfig-{user}"
        path.write_text(kubeconfig_text(url=self.url, token=token, user=user, ca_pem=self.ca_pem))
        path.chmod(0o600)
        return path

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60.0, kubeconfig: Path | None = None
                ) -> subprocess.CompletedProcess[str]:
        """Run the installed kubectl against this server (own discovery cache per cluster)."""
        cmd = [KUBECTL, "--kubeconfig", str(kubeconfig or self.kubeconfig),
               "--cache-dir", str(self.workdir / "kube-cache"), *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stderr}{proc.stdout}")
        return proc

    def api(self, method: str, path: str, body: Any = None,
            query: Mapping[str, Any] | None = None, content_type: str = "application/json",
            *, token: str | None = None, accept: str = "application/json",
            timeout: float = 30.0, headers: Mapping[str, str] | None = None
            ) -> tuple[int, Any]:
        """One HTTP request; returns (status, decoded JSON body or text).

        ``token`` defaults to the admin's; ``token=""`` sends no Authorization header.
        """
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode(
                {k: ("true" if v is True else "false" if v is False else v)
                 for k, v in query.items() if v is not None})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"Content-Type": content_type, "Accept": accept,
                "User-Agent": "autopilot-tests/1.0", **(headers or {})}
        if token != "":  # "" sends no credentials at all
            sent["Authorization"] = f"Bearer {token or self.token}"
        req = urllib.request.Request(url, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._tls) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read())

    def status_of(self, path: str, query: Mapping[str, Any] | None = None, *,
                  timeout: float = 10.0) -> int:
        """The HTTP status of a GET as the admin, its body left unread (a watch's too)."""
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        req = urllib.request.Request(url, headers={
            "Authorization": f"Bearer {self.token}", "User-Agent": "autopilot-tests/1.0"})
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._tls) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def request_counts(self, *, user_agent: str) -> Counter[tuple[str, str, bool]]:
        """Requests served so far to clients whose User-Agent starts with ``user_agent``,
        by (verb, resource, dry run); discovery has the resource ``""``.

        kubesim counts them itself; a real kube-apiserver's audit log records them.
        """
        if self.sim is not None:
            return self.sim.controls.count_table(user_agent)
        assert self.server is not None
        return AuditLog(self.server.audit_log, user_agent=user_agent).table()

    # -- CRDs -----------------------------------------------------------------------------

    def install_crds(self, *paths: str | Path, timeout: float = 30.0) -> list[str]:
        """Create (or update) the CRDs in ``paths``; wait until each is Established and served."""
        names: list[str] = []
        for crd in load_crds(paths):
            name = crd["metadata"]["name"]
            status, body = self.api(
                "PATCH", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}",
                body=crd, content_type="application/apply-patch+yaml",
                query={"fieldManager": "autopilot-tests", "force": "true"})
            assert status in (200, 201), (name, status, body)
            names.append(name)
        for crd in load_crds(paths):
            self._wait_served(crd, timeout)
        return names

    def _wait_served(self, crd: dict[str, Any], timeout: float) -> None:
        name = crd["metadata"]["name"]
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("served", True))

        def ready() -> bool:
            status, body = self.api(
                "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            conds = (body.get("status") or {}).get("conditions") or [] if status == 200 else []
            if not any(c["type"] == "Established" and c["status"] == "True" for c in conds):
                return False
            status, doc = self.api("GET", f"/apis/{spec['group']}/{version}")
            return status == 200 and any(r["name"] == spec["names"]["plural"]
                                         for r in doc.get("resources", []))

        eventually_sync(ready, timeout=timeout, what=f"CRD {name} established and served")

    def delete_crds(self, *names: str, timeout: float = 30.0) -> None:
        """Delete CRDs and wait until they are gone and their resources no longer served.

        A real server answers a write to a custom resource with 403 "create not allowed
        while custom resource definition is terminating" for a moment after the CRD
        itself reads 404: its handler's cache still holds the terminating CRD. Tests of
        a kind gone for good wait for the resource's own 404.
        """
        resources = []
        for name in names:
            path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
            status, crd = self.api("GET", path)
            if status == 200 and isinstance(crd, dict):
                spec = crd.get("spec") or {}
                resources += [f"/apis/{spec.get('group')}/{v.get('name')}/"
                              f"{(spec.get('names') or {}).get('plural')}"
                              for v in spec.get("versions") or [] if v.get("served")]
            self.api("DELETE", path)
        for name in names:
            eventually_sync(lambda n=name: self.api(  # type: ignore[misc]
                "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{n}")[0] == 404,
                timeout=timeout, what=f"CRD {name} deleted")
        for resource in resources:
            eventually_sync(lambda r=resource: self.api("GET", r)[0] == 404,  # type: ignore[misc]
                            timeout=timeout, what=f"{resource} no longer served")


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return raw.decode(errors="replace")


# -- kubesim ----------------------------------------------------------------------------------


@contextmanager
def kubesim_cluster(*, crd_dirs: tuple[Path, ...] = (), faults: bool = False
                    ) -> Iterator[Cluster]:
    """A fresh kubesim in a background thread, stopped afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="kubesim-"))
    sim = KubeSim(token=ADMIN_TOKEN, user=ADMIN_USER, crd_dirs=crd_dirs,
                  other_token=OTHER_TOKEN, other_user=OTHER_USER)
    sim.controls.add_token(SA_TOKEN, SA_USER, groups=SA_GROUPS)
    sim.controls.add_token(LIMITED_TOKEN, LIMITED_USER, groups=())
    url = sim.start_in_thread()
    try:
        kubeconfig = sim.write_kubeconfig(workdir / "kubeconfig")
        trust = sim.cert.client_context() if sim.cert else None
        ca = sim.cert.cert.read_bytes() if sim.cert else None
        yield Cluster(url=url, kubeconfig=kubeconfig, token=ADMIN_TOKEN, mode="kubesim",
                      sim=sim, workdir=workdir, ca_pem=ca, _tls=trust,
                      _faults=sim.controls if faults else None)
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# -- a real kube-apiserver + etcd (envtest layout) --------------------------------------------


@contextmanager
def real_cluster(assets: Path, *, compaction: bool = False, faults: bool = False
                 ) -> Iterator[Cluster]:
    """A fresh etcd + kube-apiserver for one test (or benchmark), stopped afterwards."""
    with real_server(assets, tokens=TOKENS, compaction=compaction) as server, \
            cluster_on(server, faults=faults) as cluster:
        yield cluster


@contextmanager
def cluster_on(server: RealServer, *, faults: bool = False, shared: bool = False
               ) -> Iterator[Cluster]:
    """A test's view of a running real server: its own workdir, through a proxy if asked."""
    workdir = Path(tempfile.mkdtemp(prefix="kube-test-"))
    proxy: FaultProxy | None = None
    try:
        url, ca, tls = server.url, server.ca_pem, server.tls()
        if faults:
            compact = _compactor(server) if server.compaction else None
            proxy = FaultProxy(upstream=server.url, upstream_tls=tls, compact=compact)
            url, ca = proxy.start(), proxy.ca_pem
            tls = proxy.cert.client_context()
        kubeconfig = workdir / "kubeconfig"
        kubeconfig.write_text(kubeconfig_text(url=url, token=ADMIN_TOKEN, user=ADMIN_USER,
                                              ca_pem=ca))
        kubeconfig.chmod(0o600)
        yield Cluster(url=url, kubeconfig=kubeconfig, token=ADMIN_TOKEN, mode="real",
                      sim=None, workdir=workdir, ca_pem=ca, server=server, shared=shared,
                      _tls=tls, _faults=proxy.controls if proxy else None)
    finally:
        if proxy is not None:
            proxy.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _compactor(server: RealServer) -> Any:
    """Wait for the server's own compaction to pass the current resourceVersion."""
    admin = Cluster(url=server.url, kubeconfig=Path(os.devnull), token=ADMIN_TOKEN,
                    mode="real", sim=None, workdir=server.workdir, _tls=server.tls())
    marker = "/api/v1/namespaces/default/configmaps/compaction-marker"

    def compact() -> None:
        status, listing = admin.api("GET", "/api/v1/namespaces", query={"limit": "1"})
        assert status == 200, listing
        rv = listing["metadata"]["resourceVersion"]
        # A write after ``rv``, so a later compaction covers ``rv`` itself.
        status, body = admin.api(
            "PATCH", marker, content_type="application/apply-patch+yaml",
            query={"fieldManager": "autopilot-tests", "force": "true"},
            body={"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "compaction-marker"}, "data": {"at": str(time.time())}})
        assert status in (200, 201), body
        eventually_sync(lambda: admin.api("GET", "/api/v1/namespaces", query={
            "limit": "1", "resourceVersion": rv, "resourceVersionMatch": "Exact"})[0] == 410,
            timeout=30, interval=0.2, what=f"etcd compacted past resourceVersion {rv}")

    return compact
