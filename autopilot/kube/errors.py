"""Errors of the Kubernetes client, each one line for the user.

The API server's answer becomes :class:`ApiError` (its ``Status`` message kept
verbatim, because operators grep logs for it); a transport failure becomes
:class:`ApiUnreachable` (a ``ConnectionError``); a configuration that cannot be
loaded is a :class:`ClientConfigError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class ClientConfigError(Exception):
    """The client configuration could not be loaded (one-line reason)."""


class ApiUnreachable(ConnectionError):
    """The API server could not be reached or the connection broke mid-request."""


@dataclass
class ApiError(Exception):
    """An error answer of the API server, parsed from its ``Status`` body."""

    status: int
    reason: str
    message: str
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}"

    @classmethod
    def from_response(
        cls, status: int, text: str, *, retry_after_header: str | None = None
    ) -> ApiError:
        """Build the error from a status code and the raw response body."""
        body: dict[str, Any] = {}
        try:
            parsed = json.loads(text) if text else {}
            if isinstance(parsed, dict):
                body = parsed
        except ValueError:
            pass
        reason = str(body.get("reason") or _REASONS.get(status, "Unknown"))
        message = str(body.get("message") or text.strip() or f"HTTP {status}")
        retry_after = _parse_retry_after(retry_after_header)
        details = body.get("details")
        if retry_after is None and isinstance(details, dict):
            retry_after = _parse_retry_after(details.get("retryAfterSeconds"))
        return cls(status, reason, message, body, retry_after)

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> ApiError:
        """The error a watch stream's ERROR event (a ``Status`` object) stands for."""
        code = int(status.get("code") or 0) or 500
        return cls(code, str(status.get("reason") or _REASONS.get(code, "Error")),
                   str(status.get("message") or "watch error"), status)


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def _parse_retry_after(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        seconds = float(str(value))
    except ValueError:
        return None
    return max(0.0, seconds)
