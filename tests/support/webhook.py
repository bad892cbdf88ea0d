"""A validating admission webhook served by the test, for kubesim and a real API server.

The webhook listens on loopback over HTTPS (the self-signed loopback certificate,
handed to the API server as ``caBundle``) and refuses the kinds a test names.
Every AdmissionReview it receives is recorded.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kubesim.tls import serving_cert
from tests.support.cluster import Cluster
from tests.support.wait import eventually_sync

VWC = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
# Every namespace carries its name as this label (set by the API server).
NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass
class Seen:
    """One review the webhook answered."""

    kind: str
    operation: str
    name: str
    namespace: str
    dry_run: bool
    allowed: bool
    object_name: str = ""  # of the object (or old object) under review


@dataclass
class DenyingWebhook:
    """Refuses ``(kind, operation)`` pairs with a message; allows everything else."""

    url: str
    ca_pem: bytes
    _denials: dict[tuple[str, str], str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _registered: list[str] = field(default_factory=list)

    def deny(self, kind: str, message: str, *, operations: tuple[str, ...] = ("CREATE",
                                                                              "UPDATE")) -> None:
        """Refuse ``kind`` for ``operations`` from now on."""
        with self._lock:
            for op in operations:
                self._denials[(kind, op)] = message

    def allow_all(self) -> None:
        """Stop refusing anything."""
        with self._lock:
            self._denials.clear()

    def answer(self, review: dict[str, Any]) -> dict[str, Any]:
        """The AdmissionReview response for one request."""
        request = review.get("request") or {}
        kind = (request.get("kind") or {}).get("kind", "")
        operation = request.get("operation", "")
        with self._lock:
            message = self._denials.get((kind, operation))
            under = request.get("object") or request.get("oldObject") or {}
            self.seen.append(Seen(kind, operation, request.get("name", ""),
                                  request.get("namespace", ""), bool(request.get("dryRun")),
                                  message is None,
                                  str((under.get("metadata") or {}).get("name", ""))))
        response: dict[str, Any] = {"uid": request.get("uid"), "allowed": message is None}
        if message is not None:
            response["status"] = {"code": 403, "reason": "Forbidden", "message": message}
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "response": response}

    def configuration(self, name: str, *, rules: list[dict[str, Any]],
                      failure_policy: str = "Fail", url: str | None = None,
                      object_selector: dict[str, Any] | None = None,
                      namespace: str | None = None) -> dict[str, Any]:
        """A ValidatingWebhookConfiguration sending ``rules`` to this webhook.

        ``namespace`` limits it to objects of that namespace (tests sharing a server).
        """
        hook: dict[str, Any] = {
            "name": name,
            "clientConfig": {"url": url or f"{self.url}/validate",
                             "caBundle": base64.b64encode(self.ca_pem).decode()},
            "rules": rules, "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": failure_policy, "timeoutSeconds": 5,
        }
        if object_selector is not None:
            hook["objectSelector"] = object_selector
        if namespace is not None:
            hook["namespaceSelector"] = {"matchLabels": {NAME_LABEL: namespace}}
        return {"apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": name.replace("_", "-")}, "webhooks": [hook]}

    def register(self, cluster: Cluster, name: str, *, rules: list[dict[str, Any]],
                 **options: Any) -> str:
        """Create the configuration on ``cluster``; returns its object name."""
        config = self.configuration(name, rules=rules, **options)
        status, body = cluster.api("POST", VWC, body=config)
        assert status == 201, body
        name = str(config["metadata"]["name"])
        self._registered.append(name)
        return name

    @staticmethod
    def wait_in_force(cluster: Cluster, method: str, path: str, body: dict[str, Any],
                      *, content_type: str = "application/json") -> None:
        """Wait until a dry run of this write is refused.

        A real API server picks webhook configurations up from a cache; a test must
        not start the controller before the refusal it expects is in force.
        """
        def refused() -> bool:
            status, answer = cluster.api(method, path, body=body, content_type=content_type,
                                         query={"dryRun": "All"})
            assert status in (200, 201, 403), answer
            return status == 403

        eventually_sync(refused, what=f"the webhook refusing {method} {path}")

    def unregister(self, cluster: Cluster, name: str) -> None:
        """Delete the configuration and wait until it is gone."""
        cluster.api("DELETE", f"{VWC}/{name}")
        eventually_sync(lambda: cluster.api("GET", f"{VWC}/{name}")[0] == 404,
                        what=f"webhook configuration {name} deleted")
        if name in self._registered:
            self._registered.remove(name)

    def unregister_all(self, cluster: Cluster) -> None:
        """Delete every configuration this webhook registered and that is still there."""
        for name in list(self._registered):
            self.unregister(cluster, name)


def rule(group: str, resource: str, *, operations: tuple[str, ...] = ("CREATE", "UPDATE")
         ) -> dict[str, Any]:
    """One RuleWithOperations for every version of ``group``/``resource``."""
    return {"apiGroups": [group], "apiVersions": ["*"], "resources": [resource],
            "operations": list(operations), "scope": "*"}


@contextmanager
def denying_webhook() -> Iterator[DenyingWebhook]:
    """Serve a :class:`DenyingWebhook` on loopback for the duration of the block."""
    cert = serving_cert()
    hook: DenyingWebhook | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                review = json.loads(self.rfile.read(length) or b"{}")
                assert hook is not None
                body = json.dumps(hook.answer(review)).encode()
                self.send_response(200)
            except ValueError:
                body = b"bad AdmissionReview"
                self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = cert.server_context().wrap_socket(server.socket, server_side=True)
    hook = DenyingWebhook(url=f"https://127.0.0.1:{server.server_address[1]}",
                          ca_pem=cert.cert.read_bytes())
    thread = threading.Thread(target=server.serve_forever, name="test-webhook", daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
