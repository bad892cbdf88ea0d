"""Client configuration from a kubeconfig file or the pod's service account.

Importing ``kubernetes_asyncio`` loads its thousand generated model classes
(about 38 MB of resident memory, a third of the controller's budget) although
the client only needs a server URL, TLS material and a bearer token. This
module reads those directly for the common cases: in-cluster service accounts
(token re-read from its file, since bound tokens rotate) and kubeconfig users
with a token, token file and/or client certificate. Users with an ``exec`` or
``auth-provider`` plugin are handed to ``kubernetes_asyncio`` (imported only
then), which implements those protocols.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autopilot.kube.errors import ClientConfigError
from autopilot.yamlload import load_one, yaml_problem

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REFRESH_S = 60.0
_PLUGIN_KEYS = ("exec", "auth-provider")


class KubeconfigError(Exception):
    """The configuration cannot be used (one-line reason)."""


class NeedsPlugin(Exception):
    """The selected user authenticates through an exec/auth-provider plugin."""


@dataclass
class Configuration:
    """What :class:`~autopilot.kube.client.KubeClient` reads of a configuration.

    Attribute names match ``kubernetes_asyncio.client.Configuration`` so either works.
    """

    host: str
    ssl_ca_cert: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify_ssl: bool = True
    tls_server_name: str | None = None
    token: str | None = None
    token_file: str | None = None
    # The cluster's ``proxy-url``; without it the environment decides (kube/proxy.py).
    proxy_url: str | None = None
    _token_read_at: float = field(default=0.0, repr=False)

    async def get_api_key_with_prefix(self, identifier: str = "BearerToken") -> str | None:
        """``Bearer <token>`` (the token file re-read at most once a minute), or None."""
        if self.token_file and time.monotonic() - self._token_read_at >= TOKEN_REFRESH_S:
            try:
                text = await asyncio.to_thread(Path(self.token_file).read_text)
            except OSError:
                text = ""  # keep the last token; the file may be mid-rotation
            if text.strip():
                self.token = text.strip()
            self._token_read_at = time.monotonic()
        return f"Bearer {self.token}" if self.token else None


_temp_files: list[str] = []


def _cleanup() -> None:
    for name in _temp_files:
        with contextlib.suppress(OSError):
            os.unlink(name)


atexit.register(_cleanup)


def _data_file(b64: str, what: str) -> str:
    """Decode ``*-data`` into a private temp file (TLS libraries want paths)."""
    try:
        data = base64.b64decode(b64, validate=False)
    except ValueError as exc:
        raise KubeconfigError(f"{what} is not valid base64: {exc}") from None
    fd, name = tempfile.mkstemp(prefix="autopilot-", suffix=".pem")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    _temp_files.append(name)
    return name


def _named(doc: dict[str, Any], section: str, name: str, what: str) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(what)
            return body if isinstance(body, dict) else {}
    raise KubeconfigError(f"{what} {name!r} not found in the kubeconfig")


def _merge(docs: list[tuple[Path, dict[str, Any]]]) -> tuple[dict[str, Any], dict[str, Path]]:
    """KUBECONFIG semantics: the first file setting a value or name wins."""
    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    origin: dict[str, Path] = {}
    for path, doc in docs:
        if "current-context" not in merged and doc.get("current-context"):
            merged["current-context"] = doc["current-context"]
        for section in ("clusters", "users", "contexts"):
            seen = {e.get("name") for e in merged[section]}
            for entry in doc.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") not in seen:
                    merged[section].append(entry)
                    origin[f"{section}/{entry.get('name')}"] = path
    return merged, origin


def _resolve(path: str, base: Path) -> str:
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else base / p)


def load_kubeconfig(paths: list[Path], *, context: str | None = None) -> Configuration:
    """``context`` (default: the current context) of the (merged) kubeconfig files.

    Raises :class:`NeedsPlugin` for exec/auth-provider users and
    :class:`KubeconfigError` for anything unusable.
    """
    docs: list[tuple[Path, dict[str, Any]]] = []
    for path in paths:
        try:
            doc = load_one(path.read_text())
        except Exception as exc:
            if not isinstance(exc, OSError | UnicodeDecodeError) and yaml_problem(exc) is None:
                raise
            raise KubeconfigError(f"{path}: {' '.join(str(exc).split())}") from None
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise KubeconfigError(f"{path}: not a kubeconfig (expected a mapping)")
        docs.append((path, doc))
    merged, origin = _merge(docs)
    current = context or merged.get("current-context")
    if not current:
        raise KubeconfigError("the kubeconfig has no current-context (pass --context)")
    ctx = _named(merged, "contexts", str(current), "context")
    cluster_name, user_name = str(ctx.get("cluster", "")), str(ctx.get("user", ""))
    cluster = _named(merged, "clusters", cluster_name, "cluster")
    user = _named(merged, "users", user_name, "user") if user_name else {}
    if any(k in user for k in _PLUGIN_KEYS):
        raise NeedsPlugin(user_name)
    server = str(cluster.get("server") or "")
    if not server:
        raise KubeconfigError(f"cluster {cluster_name!r} has no server")
    cbase = origin.get(f"clusters/{cluster_name}", paths[0]).parent
    ubase = origin.get(f"users/{user_name}", paths[0]).parent
    cfg = Configuration(host=server.rstrip("/"))
    if cluster.get("certificate-authority-data"):
        cfg.ssl_ca_cert = _data_file(str(cluster["certificate-authority-data"]),
                                     "certificate-authority-data")
    elif cluster.get("certificate-authority"):
        cfg.ssl_ca_cert = _resolve(str(cluster["certificate-authority"]), cbase)
    cfg.verify_ssl = not bool(cluster.get("insecure-skip-tls-verify"))
    if cluster.get("tls-server-name"):
        cfg.tls_server_name = str(cluster["tls-server-name"])
    if cluster.get("proxy-url"):
        cfg.proxy_url = str(cluster["proxy-url"])
    for key, attr in (("client-certificate", "cert_file"), ("client-key", "key_file")):
        if user.get(f"{key}-data"):
            setattr(cfg, attr, _data_file(str(user[f"{key}-data"]), f"{key}-data"))
        elif user.get(key):
            setattr(cfg, attr, _resolve(str(user[key]), ubase))
    if user.get("token"):
        cfg.token = str(user["token"])
    elif user.get("tokenFile"):
        cfg.token_file = _resolve(str(user["tokenFile"]), ubase)
    return cfg


def load_incluster(environ: Mapping[str, str] | None = None, sa_dir: Path = SA_DIR
                   ) -> Configuration:
    """The pod's service account: API server from the environment, token and CA from files."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise KubeconfigError("KUBERNETES_SERVICE_HOST/PORT are not set")
    token = sa_dir / "token"
    if not token.is_file():
        raise KubeconfigError(f"service account token {token} does not exist")
    text = token.read_text().strip()
    if not text:
        raise KubeconfigError(f"service account token {token} is empty")
    ca = sa_dir / "ca.crt"
    if not ca.is_file():
        raise KubeconfigError(f"service account CA {ca} does not exist")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6
    return Configuration(host=f"https://{host}:{port}", ssl_ca_cert=str(ca), token=text,
                         token_file=str(token), _token_read_at=time.monotonic())


async def load_configuration(
    kubeconfig: str | os.PathLike[str] | None = None, *, context: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """Load the client configuration, choosing the source as client-go does.

    Order: an explicit kubeconfig; ``$KUBECONFIG`` (a list of files, merged); in-cluster
    when ``KUBERNETES_SERVICE_HOST`` is set (not when a ``context`` is asked for: only a
    kubeconfig has contexts); ``~/.kube/config``. Read here; users with
    exec/auth-provider plugins go through ``kubernetes_asyncio``.
    """
    env = os.environ if environ is None else environ
    try:
        if kubeconfig is not None:
            path = Path(kubeconfig)
            if not await asyncio.to_thread(path.is_file):
                raise ClientConfigError(f"kubeconfig {path} does not exist")
            return await _from_kubeconfig([path], context)
        listed = env.get("KUBECONFIG", "")
        if listed:
            existing = await asyncio.to_thread(_existing_files, listed)
            if not existing:
                raise ClientConfigError(f"KUBECONFIG: none of {listed} exists")
            return await _from_kubeconfig(existing, context)
        if env.get("KUBERNETES_SERVICE_HOST") and context is None:
            # SA_DIR read at call time, so tests can point it at a fake service account.
            return await asyncio.to_thread(load_incluster, dict(env), SA_DIR)
        home = Path(env.get("HOME") or Path.home()) / ".kube" / "config"
        if not await asyncio.to_thread(home.is_file):
            raise ClientConfigError("no Kubernetes configuration: no --kubeconfig, no $KUBECONFIG, "
                              f"not in a pod, and {home} does not exist")
        return await _from_kubeconfig([home], context)
    except ClientConfigError:
        raise
    except Exception as exc:  # the loaders raise many types; the user needs one line
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ClientConfigError(f"cannot load Kubernetes configuration: {detail}") from None


async def _from_kubeconfig(paths: list[Path], context: str | None) -> Any:
    try:
        return await asyncio.to_thread(load_kubeconfig, paths, context=context)
    except NeedsPlugin:
        pass
    # Exec/auth-provider plugins: kubernetes_asyncio implements them (a large import,
    # paid only by the configurations that need it).
    from kubernetes_asyncio import client as k8s_client
    from kubernetes_asyncio import config as k8s_config

    cfg = k8s_client.Configuration()
    await k8s_config.load_kube_config(
        config_file=os.pathsep.join(str(p) for p in paths), client_configuration=cfg,
        persist_config=False, context=context,
    )
    return cfg


def _existing_files(paths: str) -> list[Path]:
    return [Path(p) for p in paths.split(os.pathsep) if p and Path(p).is_file()]
