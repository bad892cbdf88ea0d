"""kubesim: a local Kubernetes API server, faithful where the controller and kubectl care.

It serves discovery (legacy and aggregated), a minimal OpenAPI, built-in resources
and CRD-defined ones; server-side apply with managedFields, conflicts and force;
merge, JSON and strategic-lite patches; dryRun; selectors; pagination; watch with
bookmarks, timeouts and 410 after compaction; ``as=Table`` and metadata-only
lists; and test controls (:class:`~kubesim.controls.Controls`).

It serves HTTPS with a self-signed loopback certificate (kubectl only sends bearer
tokens over TLS; ``write_kubeconfig`` embeds the certificate as the CA), or plain
HTTP with ``tls=False``. Two tokens are accepted from the start: the admin's and
one for ``other-user`` (edit wars), both in ``system:masters``; ``controls.add_token``
adds more, and identities outside ``system:masters`` are authorised by the stored
RBAC objects (``kubesim.rbac``, escalation prevention included).
ValidatingWebhookConfigurations are called for real (``kubesim.webhooks``). Request
bodies must be JSON or YAML: typed clients sending protobuf (``kubectl create ns``)
get 415, so use ``kubectl create -f``/``apply``.

Known differences from a real kube-apiserver: deleted namespaces vanish at once
with their contents (a real one keeps them Terminating until the namespace
controller, absent in tests, finishes); CRD deletion is immediate; core/v1 and
events.k8s.io/v1 events are stored separately; of the admission chain only the
validating webhooks and the test controls' simulated denials run (no mutating
webhooks, no ValidatingAdmissionPolicy, no quota).
"""

from kubesim.server import KubeSim

__all__ = ["KubeSim"]
