"""What a real API server answers to writes naming a uid, as the kubesim fidelity tests
expect it: the 409 Status, and the objects they start from."""

from __future__ import annotations

from typing import Any

from tests.support.cluster import Cluster

WRONG = "0badc0de-0000-4000-8000-00000000cafe"


def configmap(name: str, **meta: Any) -> dict[str, Any]:
    """A ConfigMap named ``name`` with ``meta`` in its metadata (a uid, a resourceVersion)."""
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta},
            "data": {"k": "v"}}


def conflict(resource: str, name: str, why: str, *, kind: str,
              group: str = "") -> dict[str, Any]:
    """The 409 Status the server answers (``kind`` as its details name it)."""
    details: dict[str, Any] = {"name": name, **({"group": group} if group else {}),
                               "kind": kind}
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f'Operation cannot be fulfilled on {resource} "{name}": {why}',
            "reason": "Conflict", "details": details, "code": 409}


def created(cluster: Cluster, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` to ``path``; the object as the server stored it."""
    status, obj = cluster.api("POST", path, body=body)
    assert status == 201, obj
    return obj


def delete_with(cluster: Cluster, path: str, query: dict[str, str] | None = None,
                **preconditions: str) -> tuple[int, Any]:
    """A DELETE carrying ``preconditions`` (uid, resourceVersion)."""
    return cluster.api("DELETE", path, body={"apiVersion": "v1", "kind": "DeleteOptions",
                                             "preconditions": preconditions}, query=query)


def uid_refusal(resource: str, name: str, given: str, stored: str, *, kind: str,
                 group: str = "") -> dict[str, Any]:
    """The 409 of a delete whose uid precondition is not the stored uid."""
    return conflict(resource, name, f"the UID in the precondition ({given}) does not match "
                     f"the UID in record ({stored}). The object might have been deleted and "
                     "then recreated", kind=kind, group=group)
