"""Watches of a few named objects of one kind (the ``by_name`` managed objects, the
tombstoned ones).

One object: a watch of its name alone (``metadata.name`` field selector, in its
namespace). Several: one watch of the kind (in their namespace when they share one)
whose cache keeps those objects alone (``Selection.keep``) and whose handler hears of
them alone: a watch of every ServiceAccount does not cache every account of the cluster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from autopilot.kube.cachefeed import EventHandler, Selection
from autopilot.kube.informer import object_key
from autopilot.kube.resources import ResourceInfo
from autopilot.kube.store import Key

# One wanted informer: its resource (None: not served, stop it), its selection (with
# the only keys its cache keeps, if any) and its handler.
Wanted = tuple[ResourceInfo | None, Selection, EventHandler]


def only_keys(keys: frozenset[Key], handler: EventHandler) -> EventHandler:
    """``handler`` for the events of the objects in ``keys`` alone."""
    def on_event(event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if object_key(obj) in keys:
            handler(event, obj, old)
    return on_event


def watches_of_keys(keys: frozenset[Key], *, res: ResourceInfo | None, handler: EventHandler,
                    alone: Callable[[Key], str], shared: str,
                    select: Selection | None = None) -> dict[str, Wanted]:
    """The watch of the objects ``keys`` name ((namespace, name); namespace "" when
    cluster-scoped): named ``alone(key)`` for one object, ``shared`` for several.
    ``select`` adds what both read the same way (a transform, metadata only)."""
    if not keys:
        return {}
    select = select or Selection()
    if len(keys) == 1:
        [(namespace, name)] = keys
        return {alone((namespace, name)): (res, dataclasses.replace(
            select, namespace=namespace or None, field_selector=f"metadata.name={name}"),
            handler)}
    namespaces = {namespace for namespace, _ in keys}
    one = (next(iter(namespaces)) or None) if len(namespaces) == 1 else None
    return {shared: (res, dataclasses.replace(select, namespace=one, keep=keys),
                     only_keys(keys, handler))}
