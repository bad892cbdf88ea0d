"""JSON merge patch, JSON patch and a small strategic-merge patch."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from kubesim.errors import SimError

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
APPLY_CBOR = "application/apply-patch+cbor"

# Lists merged by key in strategic merge patches (the common ones of pod specs and services).
_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
    "volumeMounts": "mountPath", "ports": "port", "tolerations": "key", "imagePullSecrets": "name",
    "conditions": "type",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strategic_merge_patch(target: Any, patch: Any, field: str = "") -> Any:
    """Merge patch that merges known lists by their key (``$patch`` directives unsupported)."""
    if isinstance(patch, list) and isinstance(target, list) and field in _MERGE_KEYS:
        key = _MERGE_KEYS[field]
        out = [copy.deepcopy(i) for i in target]
        index = {i.get(key): n for n, i in enumerate(out) if isinstance(i, dict)}
        for item in patch:
            if isinstance(item, dict) and item.get(key) in index:
                n = index[item.get(key)]
                out[n] = strategic_merge_patch(out[n], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out_d = dict(target) if isinstance(target, dict) else {}
    for k, value in patch.items():
        if k.startswith("$"):
            continue
        if value is None:
            out_d.pop(k, None)
        else:
            out_d[k] = strategic_merge_patch(out_d.get(k), value, k)
    return out_d


def json_patch(target: dict[str, Any], ops: Any) -> dict[str, Any]:
    """RFC 6902; a failed ``test`` or a bad path is 422 like the real server."""
    if not isinstance(ops, list):
        raise SimError(400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        result = jsonpatch.apply_patch(target, ops)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError,
            IndexError, TypeError) as exc:
        if isinstance(exc, jsonpatch.JsonPatchTestFailed):
            raise SimError(422, "the server rejected our request due to an error in our request",
                           details={}) from exc
        raise SimError(422, f"the server rejected our request due to an error in our request: "
                       f"{exc}", details={}) from exc
    if not isinstance(result, dict):
        raise SimError(422, "the server rejected our request due to an error in our request",
                       details={})
    return result
