"""Kubernetes ``Status`` error bodies, worded like a real kube-apiserver."""

from __future__ import annotations

from typing import Any

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class SimError(Exception):
    """An API error answered as a ``Status`` body with an HTTP status code."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.details = details
        self.headers = headers or {}
        # A bare text body instead of a Status (what a real server sends for some paths).
        self.plain_text: str | None = None

    def body(self) -> dict[str, Any]:
        """The ``Status`` object."""
        return status_body(self.code, self.message, reason=self.reason, details=self.details)


def status_body(
    code: int, message: str, *, reason: str = "", details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A failure ``Status`` (key order as the real server writes it)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def _details(name: str | None, group: str, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    if group:
        out["group"] = group
    out["kind"] = kind
    return out


def qualified(plural: str, group: str) -> str:
    """``leases.coordination.k8s.io`` / ``configmaps`` as the server names a resource."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> SimError:
    """404 for a missing object."""
    return SimError(
        404, f'{qualified(plural, group)} "{name}" not found', details=_details(name, group, plural)
    )


def already_exists(plural: str, group: str, name: str) -> SimError:
    """409 AlreadyExists on create."""
    return SimError(
        409,
        f'{qualified(plural, group)} "{name}" already exists',
        reason="AlreadyExists",
        details=_details(name, group, plural),
    )


def cannot_fulfil(resource: str, group: str, name: str, why: str) -> SimError:
    """409 Conflict: ``resource`` is a plural, or a kind where the server names one."""
    return SimError(
        409,
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        details=_details(name, group, resource),
    )


def conflict(plural: str, group: str, name: str) -> SimError:
    """409 Conflict on a stale resourceVersion."""
    return cannot_fulfil(plural, group, name, "the object has been modified; please apply "
                         "your changes to the latest version and try again")


def invalid(kind: str, group: str, name: str, causes: list[dict[str, Any]]) -> SimError:
    """422 Invalid with field causes (message lists them like the real server)."""
    qual = f"{kind}.{group}" if group else kind
    # The message names each distinct cause once (the causes keep every repeat), as Go's
    # ErrorList.ToAggregate does.
    parts = list(dict.fromkeys(f"{c.get('field', '')}: {c.get('message', '')}"
                               for c in causes))
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details: dict[str, Any] = _details(name, group, kind)
    details["causes"] = causes
    return SimError(422, f'{qual} "{name}" is invalid: {joined}', details=details)


def bad_request(message: str) -> SimError:
    """400 BadRequest without details."""
    return SimError(400, message)


def method_not_allowed() -> SimError:
    """405 for a verb the resource (or this path) does not serve."""
    return SimError(405, "the server does not allow this method on the requested resource",
                    reason="MethodNotAllowed")


def page_not_found(group: str | None = None) -> SimError:
    """404 for a path no API serves.

    A real kube-apiserver answers a ``Status`` under the core API and the built-in
    groups, but a bare ``404 page not found`` text for any other group: a custom
    resource's path once its CRD is gone, or a group nothing serves (``group=None``
    stands for a path outside ``/api`` and ``/apis/<group>``).
    """
    err = SimError(404, "the server could not find the requested resource", details={})
    if group is None or not _builtin_group(group):
        err.plain_text = "404 page not found\n"
    return err


def _builtin_group(group: str) -> bool:
    # Kubernetes' own groups are the core group, dotless names (apps, batch, policy...)
    # and *.k8s.io; a CRD's group always has a dot.
    return group == "" or "." not in group or group.endswith(".k8s.io")


def forbidden(
    *, user: str, verb: str, plural: str, group: str, namespace: str, name: str | None,
    subresource: str = "",
) -> SimError:
    """403 as the RBAC authorizer words it."""
    subject = qualified(plural, group)
    what = f'{subject} "{name}"' if name else subject
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    resource = f"{plural}/{subresource}" if subresource else plural
    return SimError(
        403,
        f'{what} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group '
        f'"{group}" {where}',
        details=_details(name, group, plural),
    )
