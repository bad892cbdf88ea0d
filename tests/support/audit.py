"""Counting a client's requests on a real kube-apiserver from the server's audit log.

The test harness starts every real server with a Metadata-level audit policy and a
JSON audit log (:mod:`tests.support.realserver`). Every request leaves one or two
events (long-running ones such as watches log ``ResponseStarted`` and
``ResponseComplete``), so requests are counted once per ``auditID``. A client is
told apart by its User-Agent (a prefix), dry runs by the ``dryRun`` query of the
``requestURI`` (the audit event has no field of its own for it at this level).
:func:`requests_in` lists the requests with the time the server received each
(and answered it: the ``ResponseComplete`` stage), in the shape of kubesim's
request log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

from kubesim.controls import LoggedRequest

# Table of requests: (verb, resource, dry run) -> count, the shape kubesim counts in.
RequestKey = tuple[str, str, bool]


def is_dry_run(request_uri: str) -> bool:
    """Whether the request URI asks for a dry run (``dryRun=All``)."""
    query = urllib.parse.urlsplit(request_uri).query
    return bool(urllib.parse.parse_qs(query).get("dryRun"))


class AuditLog:
    """An incremental reader of one API server's audit log, for one client."""

    def __init__(self, path: Path, *, user_agent: str) -> None:
        self.path = path
        self.user_agent = user_agent
        self._needle = user_agent.encode()
        self._offset = 0
        self._partial = b""
        self._seen: set[str] = set()
        self._table: Counter[RequestKey] = Counter()

    def table(self) -> Counter[RequestKey]:
        """Every request of the client logged so far, by (verb, resource, dry run)."""
        self._read()
        return Counter(self._table)

    def _read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            if self._needle in raw:  # cheap filter: most events are other clients'
                self._count(raw)

    def _count(self, raw: bytes) -> None:
        try:
            event: dict[str, Any] = json.loads(raw)
        except ValueError:
            return
        if not str(event.get("userAgent", "")).startswith(self.user_agent):
            return
        audit_id = str(event.get("auditID", ""))
        if audit_id in self._seen:
            return
        self._seen.add(audit_id)
        resource = str((event.get("objectRef") or {}).get("resource", ""))
        dry = is_dry_run(str(event.get("requestURI", "")))
        self._table[(str(event.get("verb", "")), resource, dry)] += 1


def requests_in(path: Path, *, user_agents: tuple[str, ...] = ()) -> list[LoggedRequest]:
    """Every request of the audit log once (of clients whose User-Agent starts with one of
    ``user_agents``, when given), by the time the server received it."""
    out: dict[str, LoggedRequest] = {}
    needles = [ua.encode() for ua in user_agents]
    with path.open("rb") as f:
        for raw in f:
            if needles and not any(n in raw for n in needles):
                continue
            try:
                event: dict[str, Any] = json.loads(raw)
            except ValueError:
                continue
            ua = str(event.get("userAgent", ""))
            audit_id = str(event.get("auditID", ""))
            if user_agents and not ua.startswith(user_agents):
                continue
            served = _stamp(event, "stageTimestamp") if event.get(
                "stage") == "ResponseComplete" else None
            if audit_id in out:  # a long-running request's later stage
                if served is not None:
                    out[audit_id] = dataclasses.replace(out[audit_id], served_at=served)
                continue
            ref = event.get("objectRef") or {}
            out[audit_id] = LoggedRequest(
                at=_stamp(event, "requestReceivedTimestamp") or 0.0,
                verb=str(event.get("verb", "")), resource=str(ref.get("resource", "")),
                namespace=str(ref.get("namespace", "")), name=str(ref.get("name", "")),
                user_agent=ua, dry_run=is_dry_run(str(event.get("requestURI", ""))),
                served_at=served)
    return sorted(out.values(), key=lambda r: r.at)


def _stamp(event: dict[str, Any], field: str) -> float | None:
    """An audit event's timestamp ``field`` in epoch seconds, None when absent."""
    stamp = str(event.get(field, ""))
    return dt.datetime.fromisoformat(stamp).timestamp() if stamp else None
