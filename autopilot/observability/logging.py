"""structlog set-up: JSON lines (``event``, ``level``, ``timestamp``) or console output.

A processor scrubs anything that looks like a bearer token or a credential
from every line, whatever code produced it (contract §12: secrets are never
logged).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
REDACTED = "[REDACTED]"
_SECRET_KEYS = re.compile(r"(?i)^(authorization|token|bearer|password|secret|api[_-]?key)$")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*")
# JWTs (service-account tokens): three base64url parts starting with "eyJ".
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")


def scrub_text(text: str) -> str:
    """Replace bearer tokens and JWTs inside a string."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_KEYS.match(k) else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, depth + 1) for v in value)
    return value


def drop_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: redact credential-looking keys and token-looking text."""
    for key in list(event_dict):
        value = event_dict[key]
        if isinstance(key, str) and _SECRET_KEYS.match(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(value)
    return event_dict


def _scrub_rendered(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Exceptions are rendered to text by format_exc_info; scrub that text too.
    exc = event_dict.get("exception")
    if isinstance(exc, str):
        event_dict["exception"] = scrub_text(exc)
    return event_dict


def configure_logging(
    *, fmt: str = "json", level: str = "info", stream: TextIO | None = None
) -> None:
    """Configure structlog (and route stdlib logging through the same output)."""
    out = stream if stream is not None else sys.stderr
    numeric = _LEVELS.get(level.lower())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r}")
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        drop_secrets,
    ]
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        tail: list[Any] = [
            structlog.processors.format_exc_info,
            _scrub_rendered,
            renderer,
        ]
    elif fmt == "console":
        tail = [structlog.dev.ConsoleRenderer(colors=out.isatty())]
    else:
        raise ValueError(f"unknown log format {fmt!r}")
    structlog.configure(
        processors=[*shared, *tail],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # Libraries (aiohttp, asyncio) log through stdlib logging: same stream, same format.
    handler = logging.StreamHandler(out)
    handler.setFormatter(_StdlibFormatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(numeric, logging.INFO))


class _StdlibFormatter(logging.Formatter):
    """Render stdlib records with structlog's processors (scrubbed, same shape)."""

    def __init__(self, fmt: str) -> None:
        super().__init__()
        self._fmt_name = fmt

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "event": scrub_text(record.getMessage()),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        event = dict(structlog.processors.TimeStamper(fmt="iso", utc=True)(None, "", event))
        if record.exc_info:
            event["exception"] = scrub_text(self.formatException(record.exc_info))
        if self._fmt_name == "json":
            return json.dumps(event, default=str)
        extras = f" [{record.name}]"
        return f"{event['timestamp']} [{event['level']:<8}] {event['event']}{extras}"
