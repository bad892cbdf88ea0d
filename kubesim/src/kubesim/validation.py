"""Checks the real server makes in code (names, namespaces of events)."""

from __future__ import annotations

import re
from typing import Any

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
# Resources whose names are DNS labels rather than subdomains.
_LABEL_NAMED = {("", "namespaces"), ("", "services")}
# Names of RBAC objects are path segments only.
_PATH_NAMED = {("rbac.authorization.k8s.io", p) for p in
               ("clusterroles", "clusterrolebindings", "roles", "rolebindings")}
# The most bytes an object's annotations may total, keys and values (256 KiB).
ANNOTATIONS_LIMIT = 262144
# A cluster-scoped event may only be recorded in these namespaces.
CLUSTER_EVENT_NAMESPACES = ("default", "kube-system")


def _cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, Any]:
    return {"reason": reason, "message": message, "field": field}


def name_causes(key: tuple[str, str], name: str) -> list[dict[str, Any]]:
    """Causes for an invalid ``metadata.name`` (empty list when valid)."""
    if not name:
        return [_cause("metadata.name", "Required value: name or generateName is required",
                       "FieldValueRequired")]
    if key in _PATH_NAMED:
        if name in (".", "..") or "/" in name or "%" in name:
            return [_cause("metadata.name", f'Invalid value: "{name}": may not contain \'/\'')]
        return []
    if key in _LABEL_NAMED:
        if len(name) > 63 or not _LABEL.fullmatch(name):
            return [_cause("metadata.name", f'Invalid value: "{name}": {_LABEL_MSG}')]
        return []
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        return [_cause("metadata.name", f'Invalid value: "{name}": {_SUBDOMAIN_MSG}')]
    return []


_QUALIFIED = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_QUALIFIED_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def _key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if "/" in prefix:
        return "a qualified name must consist of at most one '/'"
    if prefix and (len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix)):
        return "prefix part " + _SUBDOMAIN_MSG
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _QUALIFIED.fullmatch(name):
        return _QUALIFIED_MSG
    return None


def metadata_causes(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """ObjectMeta checks of every write: label keys and values, annotation keys and size."""
    meta = obj.get("metadata") or {}
    causes: list[dict[str, Any]] = []
    for key, value in (meta.get("labels") or {}).items():
        problem = _key_problem(str(key))
        if problem:
            causes.append(_cause("metadata.labels", f'Invalid value: "{key}": {problem}'))
        text = "" if value is None else str(value)
        if len(text) > 63:
            causes.append(_cause("metadata.labels", f'Invalid value: "{text}": must be no more '
                                 "than 63 characters"))
        elif text and not _QUALIFIED.fullmatch(text):
            causes.append(_cause("metadata.labels", f'Invalid value: "{text}": '
                                 f"{_LABEL_VALUE_MSG}"))
    annotations = meta.get("annotations") or {}
    for key in annotations:
        problem = _key_problem(str(key).lower())
        if problem:
            causes.append(_cause("metadata.annotations", f'Invalid value: "{key}": {problem}'))
    # Counted as the real server does: UTF-8 bytes of every key and value.
    total = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
    if total > ANNOTATIONS_LIMIT:
        causes.append(_cause("metadata.annotations", "Too long: may not be more than "
                             f"{ANNOTATIONS_LIMIT} bytes", "FieldValueTooLong"))
    return causes


# An update validates object metadata several times, and each resource's own update
# validation repeats it in its own order. "meta": the new object's metadata checks;
# "update": the immutable fields (uid) then "meta" again. After the common checks
# (meta, update) comes the resource's part, as read off a v1.36 server.
_META_THEN_UPDATE = ("meta", "update")
_UPDATE_PARTS: dict[tuple[str, str], tuple[str, ...]] = {
    **{("", p): ("update", "meta") for p in (
        "configmaps", "secrets", "serviceaccounts", "pods")},
    **{key: _META_THEN_UPDATE for key in (
        ("", "namespaces"), ("", "nodes"), ("storage.k8s.io", "storageclasses"),
        *(("rbac.authorization.k8s.io", p) for p in (
            "roles", "rolebindings", "clusterroles", "clusterrolebindings")))},
    ("", "events"): (),
    **{("admissionregistration.k8s.io", p): ("meta",) for p in (
        "validatingwebhookconfigurations", "mutatingwebhookconfigurations")},
}


def update_metadata_causes(key: tuple[str, str], obj: dict[str, Any],
                           immutable: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The metadata causes of an update, repeated as the server repeats them.

    ``immutable``: causes of metadata fields the update may not change (the uid).
    Resources not in the table validate the update once more (services, workloads,
    leases, CRDs, custom resources).
    """
    meta = metadata_causes(obj)
    parts = {"meta": meta, "update": immutable + meta}
    return [c for part in ("meta", "update", *_UPDATE_PARTS.get(key, ("update",)))
            for c in parts[part]]


def event_causes(key: tuple[str, str], obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The namespace rule for events: regarding/involvedObject must live in the event's."""
    if key[1] != "events" or key[0] not in ("", "events.k8s.io"):
        return []
    ref = obj.get("regarding" if key[0] else "involvedObject") or {}
    ns = (obj.get("metadata") or {}).get("namespace") or ""
    ref_ns = ref.get("namespace") or "" if isinstance(ref, dict) else ""
    ok = ns in CLUSTER_EVENT_NAMESPACES if not ref_ns else ref_ns == ns
    if ok:
        return []
    return [_cause("involvedObject.namespace", f'Invalid value: "{ref_ns}": does not match '
                   "event.namespace")]
