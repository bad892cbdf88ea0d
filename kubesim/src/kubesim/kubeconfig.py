"""A kubeconfig both kubectl and kubernetes-asyncio accept unchanged."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any


def kubeconfig_text(*, url: str, token: str, user: str, context: str = "kubesim",
                    namespace: str = "default", ca_pem: bytes | None = None,
                    insecure: bool = False) -> str:
    """Kubeconfig (JSON is valid YAML) pointing at ``url`` with a bearer ``token``.

    ``ca_pem`` is the server's CA (embedded); ``insecure`` skips TLS verification.
    """
    cluster: dict[str, Any] = {"server": url}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context,
                      "context": {"cluster": context, "user": user, "namespace": namespace}}],
        "current-context": context,
        "preferences": {},
    }
    return json.dumps(doc, indent=2) + "\n"


def write_kubeconfig(path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`kubeconfig_text` to ``path`` (mode 0600, like kubectl does)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(kubeconfig_text(**kwargs))
    out.chmod(0o600)
    return out
