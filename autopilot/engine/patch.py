"""The ``platform.kubevirt.io/patch`` annotation: a user's RFC 6902 JSON Patch.

The patch is applied in memory to the desired object before the apply, so the
user's change becomes part of what the autopilot enforces. Rules:

* sensitive kinds (RBAC, webhooks, MachineConfig, ...) refuse patches outright;
* no operation may write at, under or above ``/metadata/name``,
  ``/metadata/namespace``, ``/metadata/managedFields``, ``/apiVersion``,
  ``/kind`` or ``/status`` (``path``, and ``from`` of ``move``/``copy``),
  checked after RFC 6901 decoding (see :mod:`autopilot.engine.pointers`);
* ``test`` only reads, so it may look anywhere (a user can guard a patch
  with ``{"op": "test", "path": "/kind", ...}``);
* after applying, the protected fields are compared with the input as a last
  line of defence.

Every problem raises :class:`PatchError`; the input is never mutated.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Final

from autopilot.engine.pointers import PointerSyntaxError, Segments, parse_pointer, touches

SENSITIVE_KINDS: Final = frozenset(
    {
        "MachineConfig",
        "KubeletConfig",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ServiceAccount",
        "SecurityContextConstraints",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)

PROTECTED_PATHS: Final[tuple[Segments, ...]] = (
    ("metadata", "name"),
    ("metadata", "namespace"),
    ("metadata", "managedFields"),
    ("apiVersion",),
    ("kind",),
    ("status",),
)

OPS: Final = frozenset({"add", "remove", "replace", "move", "copy", "test"})
_NEEDS_VALUE: Final = frozenset({"add", "replace", "test"})
_NEEDS_FROM: Final = frozenset({"move", "copy"})

# Values nested deeper than this are refused: later deep copies and JSON
# encoding of the desired object must not hit the recursion limit.
MAX_DEPTH: Final = 64

# Categories (PatchError.reason).
INVALID_JSON: Final = "invalid-json"
SENSITIVE_KIND: Final = "sensitive-kind"
FORBIDDEN_PATH: Final = "forbidden-path"
OPERATION_FAILED: Final = "operation-failed"


class PatchError(Exception):
    """A patch annotation that cannot be used; ``str()`` is the one-line reason."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def apply_user_patch(desired: dict[str, Any], annotation: str, *, kind: str) -> dict[str, Any]:
    """Return a copy of ``desired`` with the JSON Patch in ``annotation`` applied.

    Raises :class:`PatchError` whose message starts with ``invalid JSON``,
    ``sensitive kind``, ``forbidden path`` or ``operation N (...) failed``.
    """
    for candidate in (kind, desired.get("kind")):
        if isinstance(candidate, str) and candidate in SENSITIVE_KINDS:
            raise PatchError(
                f"sensitive kind {candidate}: patches are refused", reason=SENSITIVE_KIND
            )
    ops = parse_patch(annotation)
    for number, op in enumerate(ops, start=1):
        _check_paths(number, op)
    # Imported here: most clusters carry no patch annotation, and jsonpatch with
    # jsonpointer would cost every controller about 0.3 MB resident from its start.
    import jsonpatch

    result = copy.deepcopy(desired)
    for number, op in enumerate(ops, start=1):
        try:
            result = jsonpatch.JsonPatch([op]).apply(result, in_place=True)
        except Exception as exc:  # the library raises assorted types on user input
            raise PatchError(
                f"operation {number} ({_describe(op)}) failed: {_one_line(exc)}",
                reason=OPERATION_FAILED,
            ) from None
        if not isinstance(result, dict):
            raise PatchError(
                f"operation {number} ({_describe(op)}) failed: the result is not an object",
                reason=OPERATION_FAILED,
            )
    _check_protected_unchanged(desired, result)
    return result


def parse_patch(annotation: str) -> list[dict[str, Any]]:
    """Parse and shape-check the annotation text; raises ``PatchError`` (invalid JSON)."""
    if not isinstance(annotation, str):
        raise PatchError("invalid JSON: the annotation is not a string", reason=INVALID_JSON)
    try:
        doc = json.loads(annotation, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise PatchError(f"invalid JSON: {_one_line(exc)}", reason=INVALID_JSON) from None
    if not isinstance(doc, list):
        raise PatchError(
            f"invalid JSON: a JSON Patch is an array of operations, got {_json_type(doc)}",
            reason=INVALID_JSON,
        )
    if _too_deep(doc):
        raise PatchError(
            f"invalid JSON: values nested deeper than {MAX_DEPTH} levels", reason=INVALID_JSON
        )
    for number, op in enumerate(doc, start=1):
        problem = _shape_problem(op)
        if problem:
            raise PatchError(
                f"invalid JSON: operation {number} {problem}", reason=INVALID_JSON
            )
    return doc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _shape_problem(op: Any) -> str:
    if not isinstance(op, dict):
        return f"is {_json_type(op)}, not an object"
    name = op.get("op")
    if not isinstance(name, str) or name not in OPS:
        return f"has op {_clip(json.dumps(name))}; expected one of {', '.join(sorted(OPS))}"
    for field in ("path", *(("from",) if name in _NEEDS_FROM else ())):
        value = op.get(field)
        if not isinstance(value, str):
            return f"({name}) needs a string {field!r}"
        try:
            parse_pointer(value)
        except PointerSyntaxError as exc:
            return f"({name}) has a bad {field!r}: {_clip(str(exc))}"
    if name in _NEEDS_VALUE and "value" not in op:
        return f"({name} {_clip(op['path'])}) needs a 'value'"
    return ""


def _check_paths(number: int, op: dict[str, Any]) -> None:
    if op["op"] == "test":
        return  # reads only
    for field in ("path", "from"):
        if field == "from" and op["op"] not in _NEEDS_FROM:
            continue
        hit = touches(parse_pointer(op[field]), PROTECTED_PATHS)
        if hit is not None:
            guarded = "/" + "/".join(hit)
            raise PatchError(
                f"forbidden path {guarded}: operation {number} ({op['op']}) has "
                f"{field} {_clip(json.dumps(op[field]))}",
                reason=FORBIDDEN_PATH,
            )


_MISSING: Final = object()


def _get(obj: Any, segments: Segments) -> Any:
    for s in segments:
        if not isinstance(obj, dict) or s not in obj:
            return _MISSING
        obj = obj[s]
    return obj


def _check_protected_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    for segments in PROTECTED_PATHS:
        if _get(before, segments) != _get(after, segments):
            raise PatchError(
                f"forbidden path /{'/'.join(segments)}: the patch changes it",
                reason=FORBIDDEN_PATH,
            )


def _too_deep(doc: Any) -> bool:
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return False


def _describe(op: dict[str, Any]) -> str:
    return f"{op['op']} {_clip(op['path'])}"


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return _clip(text, 200)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
