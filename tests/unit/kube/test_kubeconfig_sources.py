"""Where the client's configuration comes from, and which proxy it goes through.

As client-go: ``--kubeconfig``, then ``$KUBECONFIG`` (a list), then in-cluster, then
``~/.kube/config``; ``--context`` picks a context; a cluster's ``proxy-url`` wins over
``HTTPS_PROXY``/``NO_PROXY``. End to end, ``autopilot render --kubeconfig`` reaches the
API server through a local proxy that counts what passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from autopilot.kube import kubeconfig as kc
from autopilot.kube.client import ClientConfigError, load_configuration
from autopilot.kube.proxy import proxy_for
from tests.support.connect_proxy import connect_proxy
from tests.support.platform import Platform

PROJECT = Path(__file__).resolve().parents[2]


def kubeconfig(path: Path, *clusters: tuple[str, str], current: str | None = None,
               proxy: str | None = None) -> Path:
    """A kubeconfig with one context per (name, server)."""
    doc: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": s, **({"proxy-url": proxy} if proxy
                                                             else {})}} for n, s in clusters],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "u"}} for n, _ in clusters],
    }
    if current:
        doc["current-context"] = current
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fake in-cluster service account; returns the environment of a pod."""
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("sa-token")
    (sa / "ca.crt").write_text("CA")
    monkeypatch.setattr(kc, "SA_DIR", sa)
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    kubeconfig(home / ".kube" / "config", ("home", "https://home.example"), current="home")
    return {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443",
            "HOME": str(home)}


async def test_kubeconfig_env_list_beats_in_cluster(
    tmp_path: Path, service_account: dict[str, str]
) -> None:
    a = kubeconfig(tmp_path / "a", ("a", "https://a.example"))  # no current-context
    b = kubeconfig(tmp_path / "b", ("b", "https://b.example"), current="b")
    env = {**service_account, "KUBECONFIG": f"{tmp_path / 'missing'}:{a}:{b}"}
    cfg = await load_configuration(environ=env)
    assert cfg.host == "https://b.example"
    # Merged: the first file's clusters are there for --context.
    cfg = await load_configuration(environ=env, context="a")
    assert cfg.host == "https://a.example"


async def test_in_cluster_beats_the_home_kubeconfig(service_account: dict[str, str]) -> None:
    cfg = await load_configuration(environ=service_account)
    assert cfg.host == "https://10.0.0.1:443"
    # Without a pod, ~/.kube/config.
    home_only = {"HOME": service_account["HOME"]}
    assert (await load_configuration(environ=home_only)).host == "https://home.example"
    # A context is a kubeconfig's: asking for one skips in-cluster.
    cfg = await load_configuration(environ=service_account, context="home")
    assert cfg.host == "https://home.example"


async def test_explicit_kubeconfig_beats_everything(
    tmp_path: Path, service_account: dict[str, str]
) -> None:
    listed = kubeconfig(tmp_path / "listed", ("l", "https://listed.example"), current="l")
    explicit = kubeconfig(tmp_path / "explicit", ("e", "https://explicit.example"),
                          ("f", "https://f.example"), current="e")
    env = {**service_account, "KUBECONFIG": str(listed)}
    assert (await load_configuration(explicit, environ=env)).host == "https://explicit.example"
    assert (await load_configuration(explicit, environ=env, context="f")).host \
        == "https://f.example"
    with pytest.raises(ClientConfigError, match="context 'nope' not found") as info:
        await load_configuration(explicit, environ=env, context="nope")
    assert "\n" not in str(info.value)


async def test_missing_kubeconfig_list_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ClientConfigError, match="KUBECONFIG: none of") as info:
        await load_configuration(environ={"KUBECONFIG": str(tmp_path / "nope")})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("env", "url", "expected"), [
    ({"HTTPS_PROXY": "http://proxy:3128"}, "https://api.example:6443", "http://proxy:3128"),
    ({"https_proxy": "proxy:3128"}, "https://api.example:6443", "http://proxy:3128"),
    ({"HTTP_PROXY": "http://p:1"}, "https://api.example:6443", None),
    ({"HTTP_PROXY": "http://p:1"}, "http://api.example", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example"}, "https://api.example", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.com, .example"}, "https://api.example",
     None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".api.example"}, "https://api.example",
     "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3:6443", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://11.1.2.3:6443",
     "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.example:443"}, "https://api.example:6443",
     "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.example:6443"}, "https://api.example:6443",
     None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://api.example", None),
    ({"HTTPS_PROXY": "http://p:1"}, "https://127.0.0.1:6443", None),
    ({"HTTPS_PROXY": "http://p:1"}, "https://localhost:6443", None),
])
def test_proxy_from_the_environment(env: dict[str, str], url: str,
                                    expected: str | None) -> None:
    assert proxy_for(url, environ=env) == expected


def test_proxy_url_wins_and_bad_proxies_are_one_line() -> None:
    env = {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "*"}
    assert proxy_for("https://127.0.0.1", proxy_url="http://kc:2", environ=env) == "http://kc:2"
    with pytest.raises(ClientConfigError, match="socks5 proxies are not supported"):
        proxy_for("https://a", proxy_url="socks5://s:1080", environ={})
    with pytest.raises(ClientConfigError, match="HTTPS_PROXY"):
        proxy_for("https://a", environ={"HTTPS_PROXY": "socks5://s:1080"})


@pytest.mark.real_ok
@pytest.mark.fresh_server("the fixed HyperConverged name")
def test_render_reaches_the_server_through_the_kubeconfig_proxy(cluster: Any,
                                                                tmp_path: Path) -> None:
    platform = Platform(cluster)
    platform.install("HyperConverged")
    platform.create_hco({"platform.kubevirt.io/autopilot": "true"})
    doc = json.loads(json.dumps(_yaml(cluster.kubeconfig)))
    with connect_proxy() as (proxy, stats):
        for entry in doc["clusters"]:
            entry["cluster"]["proxy-url"] = proxy
        proxied = tmp_path / "kubeconfig"
        proxied.write_text(json.dumps(doc))
        proc = subprocess.run(
            [sys.executable, "-m", "autopilot", "render", "--kubeconfig", str(proxied),
             "--output", "status"],
            cwd=PROJECT, capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        server = cluster.url.split("://", 1)[1].rstrip("/")
        with stats.lock:
            assert stats.targets and set(stats.targets) == {server}, stats.targets
            passed = stats.connects + stats.forwarded
        assert passed >= 1
        # --live: the same kubeconfig found through $KUBECONFIG, the same proxy.
        env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
        live = subprocess.run(
            [sys.executable, "-m", "autopilot", "render", "--live", "--output", "status"],
            cwd=PROJECT, capture_output=True, text=True, timeout=120,
            env={**env, "KUBECONFIG": f"{tmp_path / 'absent'}{os.pathsep}{proxied}"},
        )
        assert live.returncode == 0, live.stderr[-2000:]
        assert live.stdout == proc.stdout
        with stats.lock:
            assert stats.connects + stats.forwarded > passed
    # The same answer as a direct connection.
    direct = subprocess.run(
        [sys.executable, "-m", "autopilot", "render", "--kubeconfig", str(cluster.kubeconfig),
         "--output", "status"],
        cwd=PROJECT, capture_output=True, text=True, timeout=120,
    )
    assert direct.returncode == 0, direct.stderr[-2000:]
    assert direct.stdout == proc.stdout


def _yaml(path: Path) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(path.read_text())
