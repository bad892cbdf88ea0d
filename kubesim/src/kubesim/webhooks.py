"""Validating admission webhooks: ValidatingWebhookConfigurations are called for real.

A write whose object matches a webhook's rules and selectors is sent to the
webhook as an ``admission.k8s.io/v1`` AdmissionReview over HTTPS (trusting the
configuration's ``caBundle``), and a refusal comes back worded as the real API
server words it: ``admission webhook "<name>" denied the request: <message>``.
Call failures follow ``failurePolicy``; dry runs reach only webhooks declaring
no side effects.

Not modelled: ``clientConfig.service`` (kubesim runs no Services; use ``url``),
``matchPolicy: Equivalent`` conversions, ``matchConditions`` and mutating
webhooks. The writer is synchronous, so a write that needs review is computed,
reviewed here, then computed again and stored without a second review.
"""

from __future__ import annotations

import base64
import binascii
import json
import ssl
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from kubesim.errors import SimError
from kubesim.selectors import matches_label_selector
from kubesim.store import Store
from kubesim.types import ResourceType

CONFIGS = ("admissionregistration.k8s.io", "validatingwebhookconfigurations")
NAMESPACES = ("", "namespaces")
Obj = dict[str, Any]


@dataclass(frozen=True)
class Review:
    """What one write asks the webhooks to admit."""

    operation: str  # CREATE | UPDATE | DELETE
    rtype: ResourceType
    version: str
    namespace: str
    name: str
    subresource: str
    obj: Obj | None
    old: Obj | None
    user: str
    groups: tuple[str, ...]
    dry_run: bool
    options: Obj = field(default_factory=dict)


class ReviewNeeded(Exception):
    """Raised by the writer: await :func:`review` on these webhooks, then write again."""

    def __init__(self, review: Review, hooks: list[Obj]) -> None:
        super().__init__(review.operation)
        self.review = review
        self.hooks = hooks


def _labels(obj: Obj | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


def _rule_matches(rule: Obj, review: Review) -> bool:
    rt = review.rtype
    ops = rule.get("operations") or []
    if "*" not in ops and review.operation not in ops:
        return False
    groups, versions = rule.get("apiGroups") or [], rule.get("apiVersions") or []
    if ("*" not in groups and rt.group not in groups) or \
            ("*" not in versions and review.version not in versions):
        return False
    scope = rule.get("scope") or "*"
    if (scope == "Cluster" and rt.namespaced) or (scope == "Namespaced" and not rt.namespaced):
        return False
    sub = review.subresource
    combined = f"{rt.plural}/{sub}" if sub else rt.plural
    for resource in rule.get("resources") or []:
        if resource in ("*/*", combined) or (resource == "*" and not sub):
            return True
        if sub and resource in (f"{rt.plural}/*", f"*/{sub}"):
            return True
    return False


def matching(store: Store, review: Review) -> list[Obj]:
    """The webhooks (with their configuration's name) that must see this write."""
    if review.rtype.group == CONFIGS[0]:
        return []  # webhook configurations are never sent to webhooks
    if review.rtype.key == NAMESPACES:
        ns_labels = _labels(review.obj or review.old)
    elif review.rtype.namespaced:
        ns_labels = _labels(store.get(NAMESPACES, "", review.namespace))
    else:
        ns_labels = None  # other cluster-scoped objects ignore namespaceSelector
    found: list[Obj] = []
    for config in store.iter(CONFIGS):
        for hook in config.get("webhooks") or []:
            if not any(_rule_matches(r, review) for r in hook.get("rules") or []):
                continue
            if ns_labels is not None and not matches_label_selector(hook.get("namespaceSelector"),
                                                               ns_labels):
                continue
            selector = hook.get("objectSelector")
            if not (matches_label_selector(selector, _labels(review.obj))
                    or matches_label_selector(selector, _labels(review.old))):
                continue
            found.append(hook)
    return found


def _request(review: Review, uid: str) -> Obj:
    rt = review.rtype
    kind = {"group": rt.group, "version": review.version, "kind": rt.kind}
    resource = {"group": rt.group, "version": review.version, "resource": rt.plural}
    request: Obj = {
        "uid": uid, "kind": kind, "resource": resource, "requestKind": kind,
        "requestResource": resource, "name": review.name, "operation": review.operation,
        "userInfo": {"username": review.user, "groups": list(review.groups)},
        "object": review.obj, "oldObject": review.old, "dryRun": review.dry_run,
        "options": review.options,
    }
    if review.subresource:
        request["subResource"] = request["requestSubResource"] = review.subresource
    if rt.namespaced:
        request["namespace"] = review.namespace
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


class _CallFailed(Exception):
    pass


def _tls(hook: Obj) -> ssl.SSLContext:
    bundle = (hook.get("clientConfig") or {}).get("caBundle")
    if not bundle:
        return ssl.create_default_context()
    try:
        pem = base64.b64decode(bundle, validate=True).decode()
        return ssl.create_default_context(cadata=pem)
    except (binascii.Error, UnicodeDecodeError, ssl.SSLError) as exc:
        raise _CallFailed(f"unable to load root certificates: {exc}") from exc


async def _call(hook: Obj, body: Obj) -> Obj:
    url = (hook.get("clientConfig") or {}).get("url")
    if not url:
        raise _CallFailed("kubesim cannot reach clientConfig.service; use clientConfig.url")
    timeout = int(hook.get("timeoutSeconds") or 10)
    target = f"{url}{'&' if '?' in url else '?'}timeout={timeout}s"
    try:
        ctx = _tls(hook)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s, \
                s.post(target, data=json.dumps(body).encode(), ssl=ctx,
                       headers={"Content-Type": "application/json"}) as resp:
            raw = await resp.read()
            if resp.status != 200:
                raise _CallFailed(f"received invalid webhook response: an error on the server "
                                  f'("{raw[:200].decode(errors="replace")}") has prevented the '
                                  f"request from succeeding (status {resp.status})")
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise _CallFailed(f'failed to call webhook: Post "{target}": {exc or type(exc).__name__}'
                          ) from exc
    try:
        answer = json.loads(raw)
        return dict(answer["response"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _CallFailed("received invalid webhook response: no response in the "
                          "AdmissionReview") from exc


def _denied(name: str, status: Any) -> SimError:
    status = status if isinstance(status, dict) else {}
    code = status.get("code") if isinstance(status.get("code"), int) else 0
    code = code if code >= 400 else 400
    by = f'admission webhook "{name}" denied the request'
    why = status.get("message") or status.get("reason")
    message = f"{by}: {why}" if why else f"{by} without explanation"
    return SimError(code, message, reason=status.get("reason") or None)


async def review(hooks: list[Obj], review: Review) -> None:
    """Ask each webhook in turn; raise the API server's error on refusal or failure."""
    for hook in hooks:
        name = str(hook.get("name") or "")
        if review.dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise SimError(400, f'admission webhook "{name}" does not support dry run')
        uid = str(uuid.uuid4())
        try:
            answer = await _call(hook, _request(review, uid))
            if answer.get("uid") != uid:
                raise _CallFailed(f'expected response.uid="{uid}", got "{answer.get("uid")}"')
        except _CallFailed as exc:
            if hook.get("failurePolicy") == "Ignore":
                continue
            raise SimError(500, f'Internal error occurred: failed calling webhook "{name}": '
                           f"{exc}", reason="InternalError") from exc
        if answer.get("allowed") is not True:
            raise _denied(name, answer.get("status"))
