"""The lean configuration loader that keeps kubernetes_asyncio out of the controller's memory.

autopilot.kube.kubeconfig reads kubeconfigs and service accounts itself (a
performance change: the generated client models cost ~38 MB of RSS); exec and
auth-provider users still go through kubernetes_asyncio.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from autopilot.kube import kubeconfig as kcfg
from autopilot.kube.client import ClientConfigError, load_configuration

PROJECT = Path(__file__).resolve().parents[2]


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc))
    return path


def config(*, cluster: dict[str, Any], user: dict[str, Any], current: str = "x",
           name: str = "c") -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": name, "user": "u"}}],
        "current-context": current,
    }


async def test_token_ca_data_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "client.crt").write_text("CERT")
    path = write(tmp_path / "kc", config(
        cluster={"server": "https://api.example:6443/",
                 "certificate-authority-data": base64.b64encode(b"CA PEM").decode(),
                 "tls-server-name": "kubernetes"},
        user={"token": "abc", "client-certificate": "client.crt", "client-key": "/abs/key"}))
    cfg = await load_configuration(path)
    assert cfg.host == "https://api.example:6443"
    assert await asyncio.to_thread(Path(cfg.ssl_ca_cert).read_bytes) == b"CA PEM"
    assert cfg.cert_file == str(tmp_path / "client.crt")
    assert cfg.key_file == "/abs/key"
    assert cfg.verify_ssl is True
    assert cfg.tls_server_name == "kubernetes"
    assert await cfg.get_api_key_with_prefix("BearerToken") == "Bearer abc"


async def test_token_file_is_reread_when_stale(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one\n")
    path = write(tmp_path / "kc", config(
        cluster={"server": "https://h", "insecure-skip-tls-verify": True},
        user={"tokenFile": "token"}))
    cfg = await load_configuration(path)
    assert cfg.verify_ssl is False
    assert await cfg.get_api_key_with_prefix() == "Bearer one"
    token.write_text("two\n")
    assert await cfg.get_api_key_with_prefix() == "Bearer one"  # within the refresh period
    cfg._token_read_at -= kcfg.TOKEN_REFRESH_S
    assert await cfg.get_api_key_with_prefix() == "Bearer two"


async def test_kubeconfig_env_merges_first_wins(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    a = write(tmp_path / "a", config(cluster={"server": "https://first"}, user={"token": "t1"}))
    b = write(tmp_path / "b", config(cluster={"server": "https://second"}, user={"token": "t2"},
                                     current="y"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{a}:{b}")
    cfg = await load_configuration()
    assert cfg.host == "https://first"


async def test_unusable_kubeconfigs_are_one_line_errors(tmp_path: Path) -> None:
    cases = [
        config(cluster={"server": "https://h"}, user={}, current="nope"),
        config(cluster={}, user={"token": "t"}),
        {"apiVersion": "v1", "kind": "Config"},
    ]
    for i, doc in enumerate(cases):
        with pytest.raises(ClientConfigError) as info:
            await load_configuration(write(tmp_path / f"kc{i}", doc))
        assert "\n" not in str(info.value)
    (tmp_path / "list").write_text("- a\n- b\n")
    with pytest.raises(ClientConfigError, match="not a kubeconfig"):
        await load_configuration(tmp_path / "list")


async def test_exec_users_go_through_kubernetes_asyncio(tmp_path: Path) -> None:
    creds = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
             "status": {"token": "from-plugin"}}
    path = write(tmp_path / "kc", config(
        cluster={"server": "https://h", "insecure-skip-tls-verify": True},
        user={"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                       "command": sys.executable,
                       "args": ["-c", f"print({json.dumps(json.dumps(creds))})"]}}))
    with pytest.raises(kcfg.NeedsPlugin):
        kcfg.load_kubeconfig([path])
    cfg = await load_configuration(path)
    assert type(cfg).__module__.startswith("kubernetes_asyncio")
    assert await cfg.get_api_key_with_prefix("BearerToken") == "Bearer from-plugin"


def test_in_cluster_service_account(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "ca.crt").write_text("CA")
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    cfg = kcfg.load_incluster(env, sa_dir=tmp_path)
    assert cfg.host == "https://[fd00::1]:443"
    assert cfg.token == "sa-token"
    assert cfg.ssl_ca_cert == str(tmp_path / "ca.crt")
    (tmp_path / "token").write_text("")
    with pytest.raises(kcfg.KubeconfigError, match="empty"):
        kcfg.load_incluster(env, sa_dir=tmp_path)


def test_the_controller_does_not_import_kubernetes_asyncio() -> None:
    code = ("import sys, autopilot.commands.run, autopilot.controller.wiring, autopilot.web;"
            "print(any(m.startswith('kubernetes_asyncio') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
