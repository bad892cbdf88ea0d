"""Annotations total at most 256 KiB, counted as UTF-8 bytes over keys and values.

A real kube-apiserver refuses a larger total on every write (create, update, merge
patch, server-side apply) with 422 Invalid naming ``metadata.annotations``; kubesim
must refuse the same writes in the same words, and accept the total at the limit
exactly. The wording was read from a v1.36 server.

One known difference: on a write to an existing object the real server lists the
same cause several times (3 or 4, by kind: each of its validation paths checks the
metadata again), where kubesim lists it once. The message, the reason and the
distinct causes, which is what clients read, are the same.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.cluster import Cluster

LIMIT = 262144
CAUSE = {"reason": "FieldValueTooLong", "field": "metadata.annotations",
         "message": f"Too long: may not be more than {LIMIT} bytes"}
KEY = "example.com/blob"
MERGE = "application/merge-patch+json"
APPLY = "application/apply-patch+yaml"


def annotations(total: int, *, char: str = "a") -> dict[str, str]:
    """One annotation whose key and value together take ``total`` bytes."""
    width = len(char.encode())
    assert (total - len(KEY)) % width == 0
    return {KEY: char * ((total - len(KEY)) // width)}


def config_map(name: str, notes: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": notes}, "data": {"a": "1"}}


def refused(status: int, body: Any, name: str, *, once: bool = False) -> None:
    """422 Invalid for the annotations' size alone (``once``: the cause listed once)."""
    assert status == 422, (status, str(body)[:300])
    assert body["reason"] == "Invalid"
    causes = body["details"]["causes"]
    assert causes and all(cause == CAUSE for cause in causes), causes
    if once:
        assert len(causes) == 1, causes
    assert body["message"] == f'ConfigMap "{name}" is invalid: metadata.annotations: ' \
        f"{CAUSE['message']}"


@pytest.fixture
def configmaps(cluster: Cluster) -> str:
    return f"/api/v1/namespaces/{cluster.new_namespace()}/configmaps"


def test_create_at_the_limit_and_one_byte_over(cluster: Cluster, configmaps: str) -> None:
    status, body = cluster.api("POST", configmaps, body=config_map("at", annotations(LIMIT)))
    assert status == 201, str(body)[:300]
    status, body = cluster.api("POST", configmaps, body=config_map("over",
                                                                   annotations(LIMIT + 1)))
    refused(status, body, "over", once=True)
    assert cluster.api("GET", f"{configmaps}/over")[0] == 404


def test_bytes_not_characters(cluster: Cluster, configmaps: str) -> None:
    # "é" is two bytes: a total of LIMIT + 2 bytes in fewer than LIMIT characters.
    notes = annotations(LIMIT + 2 - len(KEY) % 2, char="é")
    assert len(KEY) + len(notes[KEY]) < LIMIT
    status, body = cluster.api("POST", configmaps, body=config_map("wide", notes))
    refused(status, body, "wide", once=True)


@pytest.mark.parametrize("write", ["update", "merge-patch", "apply"])
def test_every_write_of_an_existing_object(cluster: Cluster, configmaps: str,
                                           write: str) -> None:
    name = f"w-{uuid.uuid4().hex[:6]}"
    status, body = cluster.api("POST", configmaps, body=config_map(name, {"a": "b"}))
    assert status == 201, body
    path = f"{configmaps}/{name}"
    too_big = annotations(LIMIT + 1)
    if write == "update":
        obj = dict(body)
        obj["metadata"]["annotations"] = too_big
        status, body = cluster.api("PUT", path, body=obj)
    elif write == "merge-patch":
        status, body = cluster.api("PATCH", path, body={"metadata": {"annotations": too_big}},
                                   content_type=MERGE)
    else:
        status, body = cluster.api("PATCH", path, body=config_map(name, too_big),
                                   query={"fieldManager": "test"}, content_type=APPLY)
    refused(status, body, name)
    status, stored = cluster.api("GET", path)
    assert status == 200 and KEY not in stored["metadata"]["annotations"]
