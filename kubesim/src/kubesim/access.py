"""Impersonation and SelfSubjectAccessReview: what ``kubectl auth can-i --as=...`` uses.

Runbooks tell the SRE to ask the API server whether the controller's service
account may write a kind; kubesim answers from the same RBAC it enforces.
``kubectl`` posts the review as protobuf, so the few fields it carries are read
from the wire format here (answers are JSON, which kubectl accepts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubesim import protobuf, rbac
from kubesim.errors import bad_request
from kubesim.rbac import Identity
from kubesim.store import Store

SELF_REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
_PROTO_MAGIC = b"k8s\x00"


class ImpersonationRefused(Exception):
    """``who`` may not impersonate; ``mode`` names the kind of target as v1.36 words it."""

    def __init__(self, mode: str) -> None:
        super().__init__(mode)
        self.mode = mode


def _mode(user: str) -> str:
    if rbac.service_account_of(user):
        return "serviceaccount"
    return "arbitrary-node" if user.startswith("system:node:") else "user-info"


def impersonated(store: Store, who: Identity, headers: Mapping[str, str],
                 groups: list[str]) -> Identity:
    """The identity a request acts as: ``who`` itself, or the one it may impersonate.

    ``groups`` are the (repeatable) ``Impersonate-Group`` header values. A refusal raises
    :class:`ImpersonationRefused`; the caller words it for the request it refuses.
    """
    user = headers.get("Impersonate-User", "")
    if not user:
        if groups:
            raise bad_request(f"requested {groups} without impersonating a user")
        return who
    account = rbac.service_account_of(user)
    targets: list[tuple[str, str, str]] = [  # (resource, namespace, name)
        ("serviceaccounts", *account) if account else ("users", "", user)]
    targets += [("groups", "", g) for g in groups]
    for resource, namespace, name in targets:
        if not rbac.allowed(store, who, verb="impersonate", group="", resource=resource,
                            namespace=namespace, name=name):
            raise ImpersonationRefused(_mode(user))
    implied: tuple[str, ...] = tuple(groups)
    if not groups and account:
        implied = ("system:serviceaccounts", f"system:serviceaccounts:{account[0]}")
    return Identity(user, (*implied, "system:authenticated"))


# -- the review ----------------------------------------------------------------------------


_RESOURCE_FIELDS = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource",
                    6: "subresource", 7: "name"}


def _spec_from_protobuf(raw: bytes) -> dict[str, Any]:
    envelope = protobuf.messages(raw[len(_PROTO_MAGIC):])
    review = protobuf.messages(envelope.get(2, b""))
    spec = protobuf.messages(review.get(2, b""))
    out: dict[str, Any] = {}
    if 1 in spec:
        attrs = protobuf.messages(spec[1])
        out["resourceAttributes"] = {name: attrs[n].decode() for n, name in
                                     _RESOURCE_FIELDS.items() if n in attrs}
    if 2 in spec:
        attrs = protobuf.messages(spec[2])
        out["nonResourceAttributes"] = {name: attrs[n].decode() for n, name in
                                        ((1, "path"), (2, "verb")) if n in attrs}
    return out


def self_review(store: Store, who: Identity, raw: bytes) -> dict[str, Any]:
    """The answered SelfSubjectAccessReview for a JSON or protobuf request body."""
    try:
        if raw.startswith(_PROTO_MAGIC):
            spec = _spec_from_protobuf(raw)
        else:
            body = json.loads(raw or b"{}")
            given = body.get("spec") if isinstance(body, dict) else None
            if not isinstance(given, dict):
                raise ValueError("no spec")
            spec = given
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"the body of the request was in an unknown format: {exc}") from exc
    attrs = spec.get("resourceAttributes")
    if isinstance(attrs, dict):
        allowed = rbac.allowed(
            store, who, verb=str(attrs.get("verb") or ""), group=str(attrs.get("group") or ""),
            resource=str(attrs.get("resource") or ""),
            subresource=str(attrs.get("subresource") or ""),
            namespace=str(attrs.get("namespace") or ""), name=str(attrs.get("name") or ""))
    else:
        # Every non-resource path kubesim serves is open to authenticated users.
        allowed = True
    status: dict[str, Any] = {"allowed": allowed}
    if who.superuser:
        status["reason"] = f'allowed by the group "{rbac.SUPERUSER_GROUP}"'
    return {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}


RULES_REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
# What the real server's bootstrap roles (system:basic-user) grant every authenticated
# user; kubesim stores no such roles, so the review adds them as the real one lists them.
_BASIC_USER_RULES: tuple[dict[str, Any], ...] = (
    {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
     "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
    {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"],
     "resources": ["selfsubjectreviews"]},
)


def rules_review(store: Store, who: Identity, raw: bytes) -> dict[str, Any]:
    """The answered SelfSubjectRulesReview (JSON): every rule ``who`` holds in a namespace."""
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"the body of the request was in an unknown format: {exc}") from exc
    spec = body.get("spec") if isinstance(body, dict) else None
    namespace = str((spec or {}).get("namespace") or "")
    if not namespace:
        raise bad_request("no namespace on request")
    if who.superuser:
        rules: list[dict[str, Any]] = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
    else:
        rules = [dict(r) for r in _BASIC_USER_RULES]
        rules += [{k: r[k] for k in ("verbs", "apiGroups", "resources", "resourceNames")
                   if r.get(k)} for r in rbac.rules_of(store, who, namespace)
                  if not r.get("nonResourceURLs")]
    return {"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {}, "spec": {},
            "status": {"resourceRules": rules, "nonResourceRules": [], "incomplete": False}}
