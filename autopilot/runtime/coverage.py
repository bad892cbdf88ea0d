"""Which running informer already caches an object, found by the informers' selections.

An informer *covers* an object when it watches the object's resource with no label
selector, in the object's namespace or in all of them, and with no field selector
but one naming the object itself: whatever labels the object carries, a listed
cache of that informer holds it when it exists. Such a cache answers whether the
object exists; it answers what the object holds only when it keeps objects whole
(no transform, not metadata-only), or that object (``Selection.whole_keys``). A cache
told to keep only some names
(``Selection.keep``) covers those alone. Readers ask
here before they start a watch or send a read of their own, so an object the
controller already watches is neither watched nor read twice.
Nothing here knows a kind: only the selections decide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autopilot.kube.informer import Informer, Selection
from autopilot.kube.resources import ResourceInfo
from autopilot.runtime.informer_set import InformerSet


def selects(select: Selection, res: ResourceInfo, *, namespace: str, name: str) -> bool:
    """Whether an informer of ``res`` with ``select`` holds the object, labels regardless."""
    if select.label_selector:
        return False
    if select.field_selector and select.field_selector != f"metadata.name={name}":
        return False
    if select.namespace is None:
        return True
    return res.namespaced and select.namespace == namespace


def keeps_whole(select: Selection) -> bool:
    """Whether the informer caches objects as the server sent them (not reduced)."""
    return select.transform is None and not select.metadata_only


@dataclass(frozen=True, slots=True)
class Cover:
    """A listed informer whose cache holds the object (whole or reduced) when it exists;
    ``whole``: whether it holds the object whole (it keeps every object or this one so)."""

    name: str
    informer: Informer
    whole: bool

    def get(self, *, namespace: str, name: str) -> dict[str, Any] | None:
        """The cached object (reduced unless :attr:`whole`), or None: it does not exist."""
        ns = namespace if self.informer.resource.namespaced else ""
        return self.informer.store.get(ns or None, name)


def covering(
    informers: InformerSet, res: ResourceInfo, *, namespace: str, name: str,
    whole: bool = False, exclude: frozenset[str] = frozenset(),
    accept: Callable[[Selection], bool] | None = None,
) -> Cover | None:
    """A *listed* informer covering the object (one keeping it whole first), or None.

    ``whole``: only an informer that keeps objects whole. ``exclude``: informer names
    not to consider (a reader's own watches). ``accept``: only informers whose
    selection it accepts (what the reader needs of a reduced object).
    """
    found: Cover | None = None
    key = (namespace if res.namespaced else "", name)
    for inf_name, inf in informers.items():
        if inf_name in exclude or inf.resource != res or not inf.has_synced:
            continue
        if accept is not None and not accept(inf.select):
            continue
        if not selects(inf.select, res, namespace=namespace, name=name):
            continue
        if inf.select.keep is not None and key not in inf.select.keep:
            continue  # absent from it says nothing: it drops what it was not told to keep
        cover = Cover(inf_name, inf, whole=keeps_whole(inf.select) or (
            not inf.select.metadata_only and key in inf.select.whole_keys))
        if cover.whole:
            return cover
        if not whole and found is None:
            found = cover
    return found
