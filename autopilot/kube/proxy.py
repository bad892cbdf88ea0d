"""Which HTTP proxy a request to the API server goes through, as client-go decides.

A kubeconfig cluster's ``proxy-url`` wins; otherwise the environment:
``HTTPS_PROXY`` for an ``https`` server (``HTTP_PROXY`` for ``http``), either case,
unless ``NO_PROXY`` lists the server. ``NO_PROXY`` entries, comma-separated: ``*``
(everything), a host name (itself and its sub-domains; a leading dot means only
sub-domains' suffix match, as Go's ``httpproxy`` does), an IP address or a CIDR range,
each optionally with ``:port``. Like Go, an environment proxy is never used for
``localhost`` or a loopback address (a ``proxy-url`` always is).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from autopilot.kube.errors import ClientConfigError

SUPPORTED_SCHEMES = ("http", "https")


def check_proxy_url(url: str, *, what: str) -> str:
    """``url`` when it is a proxy aiohttp can use, else a one-line :class:`ClientConfigError`."""
    parts = urlsplit(url)
    if parts.scheme not in SUPPORTED_SCHEMES or not parts.hostname:
        raise ClientConfigError(f"{what}: {url!r} is not an http:// or https:// proxy URL "
                          "(socks5 proxies are not supported)")
    return url


def _env(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name.upper()) or environ.get(name.lower()) or ""


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else (443 if scheme == "https" else 80)


def _entry_matches(entry: str, host: str, port: int) -> bool:
    entry = entry.strip().lower()
    if not entry:
        return False
    if entry == "*":
        return True
    want_port: int | None = None
    try:
        network = ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        network = None
        name, sep, port_text = entry.rpartition(":")
        if sep and port_text.isdigit() and "]" not in port_text:
            entry, want_port = name, int(port_text)
    if want_port is not None and want_port != port:
        return False
    if network is None:
        try:
            network = ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            network = None
    if network is not None:
        try:
            return ipaddress.ip_address(host) in network
        except ValueError:
            return False
    if entry.startswith("."):
        return host.endswith(entry)
    return host == entry or host.endswith("." + entry)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bypassed(url: str, no_proxy: str) -> bool:
    """Whether an environment proxy is skipped for ``url`` (``no_proxy``: NO_PROXY's value)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = _port(parts.scheme, parts.port)
    return _loopback(host) or any(_entry_matches(e, host, port) for e in no_proxy.split(","))


def proxy_for(url: str, *, proxy_url: str | None = None,
              environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy for requests to ``url`` (the API server), or None to connect directly."""
    if proxy_url:
        return check_proxy_url(proxy_url, what="kubeconfig proxy-url")
    env = os.environ if environ is None else environ
    scheme = urlsplit(url).scheme
    chosen = _env(env, "https_proxy") if scheme == "https" else _env(env, "http_proxy")
    if not chosen or bypassed(url, _env(env, "no_proxy")):
        return None
    if "://" not in chosen:
        chosen = "http://" + chosen  # Go accepts a bare host:port
    return check_proxy_url(chosen, what="HTTPS_PROXY" if scheme == "https" else "HTTP_PROXY")
