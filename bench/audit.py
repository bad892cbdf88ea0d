"""Counting the controller's requests on a real kube-apiserver from its audit log.

The server is started with a Metadata-level audit policy and a JSON audit log;
every request leaves one or two events (long-running ones such as watches log
``ResponseStarted`` and ``ResponseComplete``), so requests are counted once per
``auditID``. The controller is told apart by its User-Agent, dry runs by the
``dryRun`` query of the ``requestURI`` (the audit event has no field of its own
for it at this level).
"""

from __future__ import annotations

import json
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

# Table of requests: (verb, resource, dry run) -> count, the shape kubesim counts in.
RequestKey = tuple[str, str, bool]

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
"""


def is_dry_run(request_uri: str) -> bool:
    """Whether the request URI asks for a dry run (``dryRun=All``)."""
    query = urllib.parse.urlsplit(request_uri).query
    return bool(urllib.parse.parse_qs(query).get("dryRun"))


class AuditLog:
    """The audit files of one API server, and an incremental reader of its log."""

    def __init__(self, folder: Path, *, user_agent: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.policy = folder / "audit-policy.yaml"
        self.path = folder / "audit.log"
        self.policy.write_text(POLICY)
        self.user_agent = user_agent
        self._needle = user_agent.encode()
        self._offset = 0
        self._partial = b""
        self._seen: set[str] = set()
        self._table: Counter[RequestKey] = Counter()

    def apiserver_args(self) -> tuple[str, ...]:
        """The kube-apiserver flags that write this log (no rotation during a run)."""
        return (f"--audit-policy-file={self.policy}", f"--audit-log-path={self.path}",
                "--audit-log-format=json", "--audit-log-maxsize=4096",
                "--audit-log-mode=blocking")

    def table(self) -> Counter[RequestKey]:
        """Every request of the controller logged so far, by (verb, resource, dry run)."""
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
