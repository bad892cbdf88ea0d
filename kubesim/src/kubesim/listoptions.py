"""The API server's checks of list and watch options, and streaming lists' switch.

kube-apiserver validates ``resourceVersionMatch`` and ``sendInitialEvents``
before it reads anything, and answers 422 Invalid on the ``ListOptions`` of the
``meta.k8s.io`` group, one cause per broken rule, worded as v1.36 words them.
A watch with ``sendInitialEvents`` needs ``resourceVersionMatch=NotOlderThan``
and the ``WatchList`` feature gate; ``resourceVersionMatch`` on a watch needs
``sendInitialEvents``; a list takes neither ``sendInitialEvents`` nor a
``resourceVersionMatch`` without a ``resourceVersion``.

What the streaming-list feature does is the test controls' choice
(``Controls.set_streaming_lists``): served (``on``, a v1.36 server's default),
refused like a server with the gate off (``refused``), or unknown like a server
that knows neither parameter (older than 1.19), which drops both (``ignored``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesim.errors import invalid

NOT_OLDER_THAN = "NotOlderThan"
EXACT = "Exact"
STREAMING_MODES = ("on", "refused", "ignored")
_STREAMING_PARAMS = ("sendInitialEvents", "resourceVersionMatch")


def as_served(query: Mapping[str, str], mode: str) -> dict[str, str]:
    """The query as a server in streaming-list ``mode`` reads it (old ones drop two keys)."""
    if mode == "ignored":
        return {k: v for k, v in query.items() if k not in _STREAMING_PARAMS}
    return dict(query)


def _forbidden(path: str, detail: str) -> dict[str, Any]:
    return {"reason": "FieldValueForbidden", "message": f"Forbidden: {detail}", "field": path}


def _not_supported(path: str, value: str, supported: tuple[str, ...]) -> dict[str, Any]:
    listed = ", ".join(f'"{s}"' for s in supported)
    return {"reason": "FieldValueNotSupported",
            "message": f'Unsupported value: "{value}": supported values: {listed}',
            "field": path}


def _watch_causes(query: Mapping[str, str], *, gate: bool) -> list[dict[str, Any]]:
    causes = []
    match = query.get("resourceVersionMatch") or ""
    if "sendInitialEvents" in query:
        if match != NOT_OLDER_THAN:
            causes.append(_forbidden("resourceVersionMatch", "sendInitialEvents requires "
                                     f"setting resourceVersionMatch to {NOT_OLDER_THAN}"))
        if not gate:
            causes.append(_forbidden("sendInitialEvents", "sendInitialEvents is forbidden for "
                                     "watch unless the WatchList feature gate is enabled"))
    if match:
        if "sendInitialEvents" not in query:
            causes.append(_forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                     "for watch unless sendInitialEvents is provided"))
        if match != NOT_OLDER_THAN:
            causes.append(_not_supported("resourceVersionMatch", match, (NOT_OLDER_THAN,)))
        if query.get("continue"):
            causes.append(_forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                     "when continue is provided"))
    return causes


def _list_causes(query: Mapping[str, str]) -> list[dict[str, Any]]:
    causes = []
    match = query.get("resourceVersionMatch") or ""
    if match:
        if not query.get("resourceVersion"):
            causes.append(_forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                     "unless resourceVersion is provided"))
        if query.get("continue"):
            causes.append(_forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                     "when continue is provided"))
        if match not in (EXACT, NOT_OLDER_THAN):
            causes.append(_not_supported("resourceVersionMatch", match,
                                         (EXACT, NOT_OLDER_THAN, "")))
        elif match == EXACT and query.get("resourceVersion") == "0":
            causes.append(_forbidden("resourceVersionMatch", 'resourceVersionMatch "exact" is '
                                     'forbidden for resourceVersion "0"'))
    if "sendInitialEvents" in query:
        causes.append(_forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    return causes


def validate(query: Mapping[str, str], *, watch: bool, mode: str) -> None:
    """Raise the server's 422 when the list or watch options break one of its rules."""
    causes = _watch_causes(query, gate=mode != "refused") if watch else _list_causes(query)
    if causes:
        raise invalid("ListOptions", "meta.k8s.io", "", causes)
