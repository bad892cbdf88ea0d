"""The protobuf bodies kubectl's typed commands send, read as the JSON object they encode.

``kubectl create namespace|configmap|secret|serviceaccount`` send the object as
``application/vnd.kubernetes.protobuf``: the ``k8s\\0`` magic, then a
``runtime.Unknown`` envelope (type meta, raw object bytes) around the generated
message of the kind. kubesim reads the fields those commands fill for these four
kinds and answers in JSON (kubectl accepts either). Other kinds are refused with
415, naming the kind, so the user knows to use ``kubectl apply``/``create -f``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

from kubesim.errors import SimError

MAGIC = b"k8s\x00"
Obj = dict[str, Any]
Field = tuple[int, int, Any]  # number, wire type, value (int or bytes)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data: bytes) -> Iterator[Field]:
    """Every field of one message, in wire order (repeated ones as often as they occur)."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            yield number, wire, data[pos:pos + size]
            pos += size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            yield number, wire, int.from_bytes(data[pos:pos + width], "little")
            pos += width
        else:
            raise ValueError(f"unsupported wire type {wire}")


def messages(data: bytes) -> dict[int, bytes]:
    """The length-delimited fields of one message by number (the last one wins)."""
    return {number: value for number, wire, value in fields(data) if wire == 2}


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8")


def _entry(value: bytes) -> tuple[str, bytes]:
    key, item = "", b""
    for number, _, v in fields(value):
        if number == 1:
            key = _text(v)
        elif number == 2:
            item = bytes(v)
    return key, item


def _metadata(data: bytes) -> Obj:
    meta: Obj = {}
    names = {1: "name", 2: "generateName", 3: "namespace", 6: "resourceVersion"}
    for number, _, v in fields(data):
        if number in names and v:
            meta[names[number]] = _text(v)
        elif number in (11, 12):
            key, item = _entry(v)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = \
                item.decode("utf-8")
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(v))
    return meta


def _namespace(number: int, value: Any, obj: Obj) -> None:
    if number == 2:
        finalizers = [_text(v) for n, _, v in fields(value) if n == 1]
        if finalizers:
            obj["spec"] = {"finalizers": finalizers}


def _configmap(number: int, value: Any, obj: Obj) -> None:
    if number in (2, 3):
        key, item = _entry(value)
        if number == 2:
            obj.setdefault("data", {})[key] = item.decode("utf-8")
        else:
            obj.setdefault("binaryData", {})[key] = base64.b64encode(item).decode()
    elif number == 4:
        obj["immutable"] = bool(value)


def _secret(number: int, value: Any, obj: Obj) -> None:
    if number in (2, 4):
        key, item = _entry(value)
        if number == 2:
            obj.setdefault("data", {})[key] = base64.b64encode(item).decode()
        else:
            obj.setdefault("stringData", {})[key] = item.decode("utf-8")
    elif number == 3 and value:
        obj["type"] = _text(value)
    elif number == 5:
        obj["immutable"] = bool(value)


def _serviceaccount(number: int, value: Any, obj: Obj) -> None:
    if number in (2, 3):
        name = next((_text(v) for n, _, v in fields(value) if n == (3 if number == 2 else 1)),
                    "")
        obj.setdefault("secrets" if number == 2 else "imagePullSecrets", []).append(
            {"name": name})
    elif number == 4:
        obj["automountServiceAccountToken"] = bool(value)


_KINDS: dict[tuple[str, str], Callable[[int, Any, Obj], None]] = {
    ("v1", "Namespace"): _namespace,
    ("v1", "ConfigMap"): _configmap,
    ("v1", "Secret"): _secret,
    ("v1", "ServiceAccount"): _serviceaccount,
}


def decode(raw: bytes) -> Obj:
    """The object a protobuf request body carries (415 for kinds kubesim does not read)."""
    if not raw.startswith(MAGIC):
        raise SimError(400, "the body of the request was in an unknown format: no protobuf "
                       "magic", reason="BadRequest")
    try:
        api_version = kind = ""
        body = b""
        for number, _, v in fields(raw[len(MAGIC):]):
            if number == 1:
                for n, _, t in fields(v):
                    if n == 1:
                        api_version = _text(t)
                    elif n == 2:
                        kind = _text(t)
            elif number == 2:
                body = bytes(v)
        fill = _KINDS.get((api_version, kind))
        if fill is None:
            known = ", ".join(sorted(k for _, k in _KINDS))
            raise SimError(415, f"kubesim reads protobuf bodies of {known} only, not "
                           f"{api_version} {kind}: send JSON or YAML (kubectl apply, "
                           f"kubectl create -f)", reason="UnsupportedMediaType")
        obj: Obj = {"apiVersion": api_version, "kind": kind}
        for number, _, v in fields(body):
            if number == 1:
                obj["metadata"] = _metadata(v)
            else:
                fill(number, v, obj)
        return obj
    except (ValueError, UnicodeDecodeError) as exc:
        raise SimError(400, f"the body of the request was in an unknown format: {exc}",
                       reason="BadRequest") from exc
