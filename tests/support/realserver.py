"""A real kube-apiserver + etcd on loopback, from a KUBEBUILDER_ASSETS folder (envtest layout).

:func:`real_server` starts one and stops it afterwards. The server authenticates
static bearer tokens (``--token-auth-file``), authorises with RBAC, serves TLS with
the self-signed certificate it makes for itself (its chain, CA included, is what
clients trust) and has no controller manager: namespaces never finish deleting,
nothing is garbage collected.

Every request is written to an audit log (level Metadata), which is how tests count
a client's requests by user agent, verb, resource and dry run.

With ``compaction=True`` it compacts etcd every second and serves watches from
etcd rather than its watch cache, so a watch or list from a resourceVersion older
than the last compaction is answered ``410 Gone`` by the server's own storage
(the watch cache keeps replaying old versions regardless of etcd compaction).
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

COMPACTION_INTERVAL = "1s"
READY_TIMEOUT = 90.0
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
"""


@dataclass(frozen=True)
class Token:
    """One line of the static token file."""

    token: str
    user: str
    uid: str
    groups: tuple[str, ...] = ()

    def line(self) -> str:
        """The CSV line kube-apiserver reads."""
        groups = f',"{",".join(self.groups)}"' if self.groups else ""
        return f"{self.token},{self.user},{self.uid}{groups}\n"


BINARIES = ("etcd", "kube-apiserver")


def real_assets() -> Path | None:
    """The KUBEBUILDER_ASSETS folder when it holds etcd and kube-apiserver."""
    return None if assets_problem() else Path(os.environ["KUBEBUILDER_ASSETS"])


def assets_problem() -> str | None:
    """Why KUBEBUILDER_ASSETS names no usable real server (``None`` when it does)."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if not assets:
        return "KUBEBUILDER_ASSETS is not set"
    folder = Path(assets)
    missing = [name for name in BINARIES if not (folder / name).is_file()]
    if missing:
        return f"KUBEBUILDER_ASSETS={assets} lacks {', '.join(missing)}"
    return None


def _ephemeral_low() -> int:
    """The lowest port the kernel hands to outgoing connections (Linux; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port free on loopback right now, below the kernel's ephemeral range.

    A port the kernel picks (``bind(0)``) comes from the range it also gives outgoing
    connections, so between this call and the listener's own bind another process's
    connection may take it (seen with parallel workers). Below that range only other
    listeners compete, and they pick at random from thousands of ports.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low) if low > 2048 else 0
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free loopback port below the ephemeral range")


_keys_lock = threading.Lock()
_keys: tuple[Path, Path] | None = None


def _service_account_keys() -> tuple[Path, Path]:
    """One RSA key pair for every server of this process (signing SA tokens; never used)."""
    global _keys
    with _keys_lock:
        if _keys is not None and _keys[0].is_file():
            return _keys
        folder = Path(tempfile.mkdtemp(prefix="kube-real-keys-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        key, pub = folder / "sa.key", folder / "sa.pub"
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                       capture_output=True, timeout=60)
        subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)],
                       check=True, capture_output=True, timeout=60)
        _keys = (key, pub)
        return _keys


@dataclass
class RealServer:
    """A running etcd + kube-apiserver pair."""

    url: str
    workdir: Path
    compaction: bool
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def ca_file(self) -> Path:
        """The serving certificate chain (leaf and its self-signed CA): what clients trust."""
        return self.workdir / "certs" / "apiserver.crt"

    @property
    def audit_log(self) -> Path:
        """One JSON audit event per line (stages ResponseStarted and ResponseComplete)."""
        return self.workdir / "audit.log"

    @property
    def ca_pem(self) -> bytes:
        """The chain's PEM bytes."""
        return self.ca_file.read_bytes()

    def tls(self) -> ssl.SSLContext:
        """A client TLS context verifying this server."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def problem(self) -> str | None:
        """Why the server is unusable (a process exited), or None."""
        for what, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.workdir / f"{what}.log").read_text(errors="replace")[-2000:]
                return f"{what} exited with {proc.returncode}:\n{tail}"
        return None

    def ready(self) -> bool:
        """Whether ``/readyz`` answers ``ok`` (certificates may not exist yet)."""
        if not self.ca_file.is_file():
            return False
        req = urllib.request.Request(self.url + "/readyz")
        try:
            with urllib.request.urlopen(req, timeout=2, context=self.tls()) as resp:
                return bool(resp.status == 200 and resp.read().strip() == b"ok")
        except (OSError, urllib.error.URLError, ssl.SSLError):
            return False


def _start(stack: ExitStack, server: RealServer, what: str, args: list[str]) -> None:
    log: IO[bytes] = stack.enter_context((server.workdir / f"{what}.log").open("wb"))
    server.procs[what] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


def _stop(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """Stop each in turn (the API server before etcd: it shuts down fast while etcd is up)."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# A port free when chosen can be taken before the server binds it (by a test beside
# this one, or an outgoing connection): such a start is retried on fresh ports.
PORT_TAKEN = "address already in use"
START_ATTEMPTS = 3


@contextmanager
def real_server(assets: Path, *, tokens: Iterable[Token], compaction: bool = False,
                extra_args: Iterable[str] = ()) -> Iterator[RealServer]:
    """etcd + kube-apiserver on loopback ports; stopped and removed afterwards."""
    tokens, extra_args = tuple(tokens), tuple(extra_args)
    for attempt in range(1, START_ATTEMPTS + 1):
        stack = ExitStack()
        try:
            server = _launch(stack, assets, tokens=tokens, compaction=compaction,
                             extra_args=extra_args)
        except RuntimeError as exc:
            stack.close()
            if PORT_TAKEN in str(exc) and attempt < START_ATTEMPTS:
                continue
            raise
        with stack:
            yield server
        return


def _launch(stack: ExitStack, assets: Path, *, tokens: tuple[Token, ...], compaction: bool,
            extra_args: tuple[str, ...]) -> RealServer:
    """Start etcd and kube-apiserver and wait until ready; ``stack`` stops and removes them."""
    workdir = Path(tempfile.mkdtemp(prefix="kube-real-"))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    server = RealServer(url=f"https://127.0.0.1:{api_port}", workdir=workdir,
                        compaction=compaction)
    # Registered after the folder's removal, so it runs first: processes stop, then their
    # folder goes (the API server before etcd: it shuts down fast while etcd is up).
    stack.callback(lambda: _stop(reversed(list(server.procs.values()))))
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    _start(stack, server, "etcd", [
        str(assets / "etcd"), f"--data-dir={workdir / 'etcd'}",
        f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
        f"--listen-peer-urls=http://127.0.0.1:{peer_port}", "--unsafe-no-fsync=true"])
    key, pub = _service_account_keys()
    token_file = workdir / "tokens.csv"
    token_file.write_text("".join(t.line() for t in tokens))
    policy = workdir / "audit-policy.yaml"
    policy.write_text(AUDIT_POLICY)
    args = [
        str(assets / "kube-apiserver"), f"--etcd-servers={etcd_url}",
        f"--secure-port={api_port}", "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1", f"--cert-dir={workdir / 'certs'}",
        f"--token-auth-file={token_file}", "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={pub}",
        f"--service-account-signing-key-file={key}",
        "--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true",
        f"--audit-policy-file={policy}", f"--audit-log-path={server.audit_log}",
        "--audit-log-format=json", "--audit-log-mode=blocking", *extra_args]
    if compaction:
        args += [f"--etcd-compaction-interval={COMPACTION_INTERVAL}", "--watch-cache=false"]
    _start(stack, server, "apiserver", args)
    _wait_ready(server)
    return server


def _wait_ready(server: RealServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not server.ready():
        problem = server.problem()
        if problem:
            raise RuntimeError(problem)
        if time.monotonic() > deadline:
            raise RuntimeError(f"kube-apiserver did not become ready within {READY_TIMEOUT:.0f} s")
        time.sleep(0.1)
