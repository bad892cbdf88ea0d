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
bodies are JSON or YAML, or protobuf for the kinds kubectl's typed ``create`` commands
send (Namespace, ConfigMap, Secret, ServiceAccount; ``kubesim.protobuf``).
Built-in Services, DaemonSets, RBAC objects, ConfigMaps and Namespaces get the real
server's semantic validation (``kubesim.builtin_checks``). Discovery and OpenAPI
requests are counted and can be slowed or failed like any other (resource ``""``).

The test suite checks kubesim against a real kube-apiserver: every test that talks
to an API server runs against both.

Known differences from a real kube-apiserver:

- deleted namespaces are answered Terminating, then vanish at once with their contents
  (kubesim plays the namespace controller; a bare API server keeps them Terminating);
  CRD deletion is immediate;
- CEL rules (``x-kubernetes-validations``) of CRDs are not evaluated; schema types,
  enums, patterns, bounds, required fields and defaults are;
- built-in kinds other than the five above get no semantic validation, only their
  names and metadata are checked; protobuf bodies of other kinds get 415;
- a watch cache is not modelled: history is kept by count and compacted on demand
  (``Controls.compact``), and bookmarks come every ``bookmark_interval`` seconds, where
  a real server bookmarks about a second before a watch's timeout once versions moved;
- core/v1 and events.k8s.io/v1 events are stored separately;
- of the admission chain only the validating webhooks and the test controls' simulated
  denials run (no mutating webhooks, no ValidatingAdmissionPolicy, no quota);
- anonymous requests get 401 (a real server lets RBAC refuse them with 403);
- no API priority and fairness: 429s come only from the test controls.
"""

from kubesim.server import KubeSim

__all__ = ["KubeSim"]
