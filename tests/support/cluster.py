"""The API server tests run against: kubesim by default, a real one with KUBEBUILDER_ASSETS.

``Cluster`` is what the ``cluster`` fixture hands to tests: where the server is,
a kubeconfig for it, a ``kubectl`` runner and a tiny synchronous HTTP helper.
Against a real kube-apiserver, ``sim`` is None and tests needing kubesim's
controls skip through :meth:`Cluster.require_sim`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kubesim import KubeSim
from kubesim.kubeconfig import kubeconfig_text
from kubesim.loader import load_crds
from tests.support.prom import parse_metrics
from tests.support.wait import eventually_sync

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


def require_shared() -> Path:
    """The shared reference folder, or skip the test saying why."""
    if not SHARED.is_dir():
        pytest.skip(f"reference folder {SHARED} is absent (recordings, CRDs)")
    return SHARED


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """One API server for a test."""

    url: str
    kubeconfig: Path
    token: str
    mode: str  # "kubesim" | "real"
    sim: KubeSim | None
    workdir: Path
    controller_user: str = ADMIN_USER
    other_token: str = OTHER_TOKEN
    other_user: str = OTHER_USER
    sa_token: str = SA_TOKEN
    sa_user: str = SA_USER
    _tls: ssl.SSLContext | None = field(default=None, repr=False)

    def require_sim(self) -> KubeSim:
        """kubesim (for its test controls), or skip against a real API server."""
        if self.sim is None:
            pytest.skip("needs kubesim test controls; running against a real kube-apiserver")
        return self.sim

    # -- clients --------------------------------------------------------------------------

    def kubeconfig_for(self, token: str, user: str) -> Path:
        """Another kubeconfig for the same server, authenticating with ``token``."""
        path = self.workdir / f"kubeconfig-{user}"
        if self.sim is not None:
            return self.sim.write_kubeconfig(path, token=token, user=user)
        path.write_text(kubeconfig_text(url=self.url, token=token, user=user, insecure=True))
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

    def request_counts(self, *, user_agent: str) -> Counter[tuple[str, str, bool]]:
        """Requests served so far, by (verb, resource, dry run).

        kubesim counts the requests of clients whose User-Agent starts with
        ``user_agent``; a real kube-apiserver reports ``apiserver_request_total`` for all
        clients (tests compare two readings while only the controller is busy).
        """
        if self.sim is not None:
            return self.sim.controls.count_table(user_agent)
        status, text = self.api("GET", "/metrics", accept="text/plain")
        assert status == 200, text
        table: Counter[tuple[str, str, bool]] = Counter()
        for (name, pairs), value in parse_metrics(str(text)).items():
            if name != "apiserver_request_total":
                continue
            labels = dict(pairs)
            verb = _REAL_VERBS.get(labels.get("verb", ""), labels.get("verb", "").lower())
            table[(verb, labels.get("resource", ""), labels.get("dry_run") == "All")] += \
                int(value)
        return table

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
        """Delete CRDs and wait until they are gone."""
        for name in names:
            self.api("DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        for name in names:
            eventually_sync(lambda n=name: self.api(  # type: ignore[misc]
                "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{n}")[0] == 404,
                timeout=timeout, what=f"CRD {name} deleted")


# apiserver_request_total's verbs -> the API verbs kubesim counts.
_REAL_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "APPLY": "patch",
               "DELETE": "delete", "DELETECOLLECTION": "deletecollection", "GET": "get",
               "LIST": "list", "WATCH": "watch", "WATCHLIST": "watch"}


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return raw.decode(errors="replace")


# -- kubesim ----------------------------------------------------------------------------------


@contextmanager
def kubesim_cluster(*, crd_dirs: tuple[Path, ...] = ()) -> Iterator[Cluster]:
    """A fresh kubesim in a background thread, stopped afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="kubesim-"))
    sim = KubeSim(token=ADMIN_TOKEN, user=ADMIN_USER, crd_dirs=crd_dirs,
                  other_token=OTHER_TOKEN, other_user=OTHER_USER)
    sim.controls.add_token(SA_TOKEN, SA_USER, groups=SA_GROUPS)
    url = sim.start_in_thread()
    try:
        kubeconfig = sim.write_kubeconfig(workdir / "kubeconfig")
        trust = sim.cert.client_context() if sim.cert else None
        yield Cluster(url=url, kubeconfig=kubeconfig, token=ADMIN_TOKEN, mode="kubesim",
                      sim=sim, workdir=workdir, _tls=trust)
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# -- a real kube-apiserver + etcd (envtest layout) --------------------------------------------


def real_assets() -> Path | None:
    """The KUBEBUILDER_ASSETS folder when it holds etcd and kube-apiserver."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if not assets:
        return None
    folder = Path(assets)
    if (folder / "etcd").is_file() and (folder / "kube-apiserver").is_file():
        return folder
    return None


@contextmanager
def real_cluster(assets: Path) -> Iterator[Cluster]:
    """etcd + kube-apiserver on loopback with a static token file (one per session)."""
    workdir = Path(tempfile.mkdtemp(prefix="kube-real-"))
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        p1, p2, p3 = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{p1}"
        etcd_log = open(workdir / "etcd.log", "wb")  # noqa: SIM115 - closed in finally
        logs.append(etcd_log)
        procs.append(subprocess.Popen(
            [str(assets / "etcd"), f"--data-dir={workdir / 'etcd'}",
             f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
             f"--listen-peer-urls=http://127.0.0.1:{p2}", "--unsafe-no-fsync=true"],
            stdout=etcd_log, stderr=subprocess.STDOUT))
        key, pub = workdir / "sa.key", workdir / "sa.pub"
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                       capture_output=True, timeout=60)
        subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)],
                       check=True, capture_output=True, timeout=60)
        tokens = workdir / "tokens.csv"
        tokens.write_text(f'{ADMIN_TOKEN},{ADMIN_USER},1001,"system:masters"\n'
                          f'{OTHER_TOKEN},{OTHER_USER},1002,"system:masters"\n'
                          f'{SA_TOKEN},{SA_USER},1003,"{",".join(SA_GROUPS)}"\n')
        (workdir / "certs").mkdir()
        api_log = open(workdir / "apiserver.log", "wb")  # noqa: SIM115 - closed in finally
        logs.append(api_log)
        procs.append(subprocess.Popen(
            [str(assets / "kube-apiserver"), f"--etcd-servers={etcd_url}",
             f"--secure-port={p3}", "--bind-address=127.0.0.1",
             "--advertise-address=127.0.0.1", f"--cert-dir={workdir / 'certs'}",
             f"--token-auth-file={tokens}", "--authorization-mode=RBAC",
             "--service-account-issuer=https://kubernetes.default.svc",
             f"--service-account-key-file={pub}",
             f"--service-account-signing-key-file={key}",
             "--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true"],
            stdout=api_log, stderr=subprocess.STDOUT))
        url = f"https://127.0.0.1:{p3}"
        kubeconfig = workdir / "kubeconfig"
        kubeconfig.write_text(kubeconfig_text(url=url, token=ADMIN_TOKEN, user=ADMIN_USER,
                                              insecure=True))
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        cluster = Cluster(url=url, kubeconfig=kubeconfig, token=ADMIN_TOKEN, mode="real",
                          sim=None, workdir=workdir, _tls=insecure)

        deadline = time.monotonic() + 60
        while True:
            for p, what in zip(procs, ("etcd", "apiserver"), strict=True):
                if p.poll() is not None:
                    tail = (workdir / f"{what}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{what} exited with {p.returncode}:\n{tail}")
            try:
                status, body = cluster.api("GET", "/readyz", timeout=2)
                if status == 200 and str(body).strip() == "ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("kube-apiserver did not become ready within 60 s")
            time.sleep(0.2)
        yield cluster
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for f in logs:
            f.close()
        shutil.rmtree(workdir, ignore_errors=True)
