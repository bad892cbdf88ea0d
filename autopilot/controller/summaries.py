"""What the controller keeps of an object that is not its own, in a kind it watches whole.

A managed kind the golden state declares ``hundreds_per_cluster`` is watched whole,
without the label selector, so that one watch tells both our objects and whether an
object with a managed name exists without our label: adoption takes no census, a
tombstone of the kind needs no watch of its own. Caching every object of such a kind
whole would cost memory in proportion to the cluster, so :func:`summarise_unlabelled`
keeps our objects (the ownership label) whole and every other as its *sweep view*
(:func:`sweep_view`): identity, the ownership label and the ``mode`` annotation, which
is all a tombstone sweep reads. Such an object is never taken for the live object:
the reconcile reads it whole before deciding anything, from the cache when its name
is one the golden state renders (``Selection.whole_keys``), else from the API server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autopilot import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from autopilot.engine.annotations import MODE
from autopilot.kube.informer import Selection, Transform, object_key
from autopilot.runtime.coverage import keeps_whole

_KEPT_META = ("name", "namespace", "resourceVersion", "uid", "deletionTimestamp")


def is_ours(obj: dict[str, Any] | None) -> bool:
    """Whether ``obj`` carries the ownership label."""
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return isinstance(labels, dict) and labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def sweep_view(obj: dict[str, Any]) -> dict[str, Any]:
    """What a sweep decides on: identity, the ownership label, the mode annotation."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    kept: dict[str, Any] = {k: meta[k] for k in _KEPT_META if k in meta}
    kept["labels"] = {k: v for k, v in labels.items() if k == MANAGED_BY_LABEL}
    kept["annotations"] = {k: v for k, v in annotations.items() if k == MODE}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": kept}


@dataclass(frozen=True)
class KeepOursWhole:
    """An informer's transform: our objects whole, every other reduced by ``reduce``.

    ``sweep``: that reduction keeps the sweep view; ``listing``: it also keeps what
    that template-lookup listing keeps of each object, so the listing can read it.
    """

    reduce: Transform
    sweep: bool = False
    listing: Transform | None = None

    def __call__(self, obj: dict[str, Any]) -> dict[str, Any]:
        return obj if is_ours(obj) else self.reduce(obj)


# Our objects whole, every other as its sweep view.
summarise_unlabelled = KeepOursWhole(sweep_view, sweep=True)


def summary_for(listing: Transform | None) -> KeepOursWhole:
    """The summary of a kind watched whole as names: the sweep view, and what the
    lookups' listing of the kind keeps when they list it (one watch serves both)."""
    if listing is None:
        return summarise_unlabelled

    def reduce(obj: dict[str, Any]) -> dict[str, Any]:
        return {**listing(obj), **sweep_view(obj)}

    return KeepOursWhole(reduce, sweep=True, listing=listing)


def keeps_sweep_view(select: Selection) -> bool:
    """Whether an informer with ``select`` keeps at least the sweep view of each object."""
    t = select.transform
    return keeps_whole(select) or (isinstance(t, KeepOursWhole) and t.sweep)


def keeps_listing(select: Selection, listing: Transform) -> bool:
    """Whether an informer with ``select`` keeps at least what ``listing`` keeps."""
    t = select.transform
    return keeps_whole(select) or (isinstance(t, KeepOursWhole) and t.listing is listing)


def is_summary(select: Selection, obj: dict[str, Any]) -> bool:
    """Whether ``obj``, cached by an informer with ``select``, is a sweep view, not whole
    (an object with a name the golden state renders is kept whole whatever its labels)."""
    return (isinstance(select.transform, KeepOursWhole) and not is_ours(obj)
            and object_key(obj) not in select.whole_keys)
