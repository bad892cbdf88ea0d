"""Replaying a real API server's recordings against kubesim, and comparing answers.

Recorded answers and kubesim's are compared after normalising what legitimately
differs between two servers: uids, timestamps, generated name suffixes, allocated
cluster IPs and resourceVersion numbers. ResourceVersions are compared by
behaviour instead: every recorded value maps to exactly one kubesim value, so
"a no-op keeps the resourceVersion" and "a write changes it" both hold. A request
naming a recorded uid names kubesim's instead (a PUT's uid is a precondition).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubesim import KubeSim

USER_AGENT = "fixture-recorder/1.0"
NOBODY_TOKEN = "nobody-token"


def load(path: Path) -> dict[str, Any]:
    """One recording file."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@dataclass
class RvMap:
    """Recorded resourceVersion -> kubesim resourceVersion, kept one-to-one; and the
    recorded objects' uids -> kubesim's."""

    forward: dict[str, str] = field(default_factory=dict)
    backward: dict[str, str] = field(default_factory=dict)
    uids: dict[str, str] = field(default_factory=dict)

    def learn_uid(self, real: str | None, sim: str | None) -> None:
        """Record that the object of uid ``real`` has ``sim`` in kubesim."""
        if real and sim:
            self.uids[real] = sim

    def learn(self, real: str | None, sim: str | None, where: str) -> None:
        """Record (and check) that ``real`` corresponds to ``sim``."""
        if not real or not sim:
            return
        if real in self.forward:
            assert self.forward[real] == sim, (
                f"{where}: recorded resourceVersion {real} was kubesim {self.forward[real]} "
                f"before, now {sim} (a no-op must keep it, a change must move it)")
        elif sim in self.backward:
            raise AssertionError(f"{where}: kubesim reused resourceVersion {sim} for recorded "
                                 f"{real} and {self.backward[sim]}")
        self.forward[real] = sim
        self.backward[sim] = real

    def translate(self, body: Any) -> Any:
        """A request body with recorded resourceVersions and uids replaced by kubesim's."""
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            return body
        body = copy.deepcopy(body)
        meta = body["metadata"]
        for key, known in (("resourceVersion", self.forward), ("uid", self.uids)):
            if meta.get(key) in known:
                meta[key] = known[meta[key]]
        return body


def _rv(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("metadata"), dict):
        rv = body["metadata"].get("resourceVersion")
        return str(rv) if rv else None
    return None


_GENERATED = re.compile(r"^(?P<prefix>.*-)[bcdfghjklmnpqrstvwxz2456789]{5}$")


def normalise(value: Any, *, generated: set[str] | None = None) -> Any:
    """Remove what differs between any two servers (see the module docstring)."""
    generated = set() if generated is None else generated
    if isinstance(value, list):
        return [normalise(v, generated=generated) for v in value]
    if isinstance(value, str):
        for name in generated:
            value = value.replace(name, "<generated>")
        return value
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    meta = value.get("metadata")
    if isinstance(meta, dict) and meta.get("generateName") and meta.get("name"):
        generated.add(str(meta["name"]))
    for k, v in value.items():
        if k in ("uid", "resourceVersion", "creationTimestamp", "lastTransitionTime", "time",
                 "continue", "storageVersionHash", "clusterIP"):
            continue
        if k == "clusterIPs":
            continue
        out[k] = normalise(v, generated=generated)
    return out


def normalise_table(body: dict[str, Any]) -> dict[str, Any]:
    """A Table without descriptions and ages (they depend on the clock and the docs)."""
    cols = [(c["name"], c["type"]) for c in body.get("columnDefinitions", [])]
    age = [i for i, c in enumerate(cols) if c[0] == "Age"]
    rows = []
    for row in body.get("rows", []):
        cells = [c for i, c in enumerate(row["cells"]) if i not in age]
        rows.append({"cells": cells, "object": normalise(row.get("object"))})
    return {"kind": body.get("kind"), "columns": cols, "rows": rows}


def request(url: str, step: dict[str, Any], *, token: str, rvs: RvMap,
            timeout: float = 30.0) -> tuple[int, Any, bytes]:
    """Send one recorded request; returns (status, decoded body, raw body)."""
    req = step["request"]
    query = req.get("query") or {}
    full = url + req["path"]
    if query:
        full += "?" + urllib.parse.urlencode(query)
    headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT,
               "Accept": "application/json"}
    headers.update(req.get("headers") or {})
    data = None
    if req.get("body") is not None:
        data = json.dumps(rvs.translate(req["body"])).encode()
    http = urllib.request.Request(full, data=data, method=req["method"], headers=headers)
    try:
        with urllib.request.urlopen(http, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        status = exc.code
    try:
        decoded = json.loads(raw) if raw else None
    except ValueError:
        decoded = raw.decode(errors="replace")
    return status, decoded, raw


def read_stream(raw: bytes) -> list[dict[str, Any]]:
    """Watch events of a finished stream."""
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def open_watch(url: str, step: dict[str, Any], *, token: str, rvs: RvMap
               ) -> tuple[threading.Thread, list[Any]]:
    """Start a recorded watch request in a thread; the result list gets (status, raw)."""
    out: list[Any] = []
    query = dict(step["request"].get("query") or {})
    if query.get("resourceVersion") in rvs.forward:
        query["resourceVersion"] = rvs.forward[query["resourceVersion"]]
    patched = {**step, "request": {**step["request"], "query": query}}

    def run() -> None:
        status, _, raw = request(url, patched, token=token, rvs=rvs, timeout=60)
        out.append((status, raw))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def new_sim() -> tuple[KubeSim, str]:
    """A kubesim for one replay (plain HTTP: this is about API semantics), with the recorder's
    users."""
    sim = KubeSim(tls=False)
    url = sim.start_in_thread()
    # No bindings name "nobody": real RBAC refuses it everything, as when recorded.
    sim.controls.add_token(NOBODY_TOKEN, "nobody", groups=())
    return sim, url
