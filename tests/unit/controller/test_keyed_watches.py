"""Watches of a few named objects: one by its name, several by one watch of the kind
that keeps and hears those alone."""

from __future__ import annotations

from typing import Any

from autopilot.controller.keyed_watches import watches_of_keys
from autopilot.kube.cachefeed import Selection
from autopilot.kube.resources import ResourceInfo

ACCOUNTS = ResourceInfo("", "v1", "ServiceAccount", "serviceaccounts", True)


def heard() -> tuple[list[str], Any]:
    names: list[str] = []

    def handler(event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        names.append(obj["metadata"]["name"])
    return names, handler


def account(namespace: str, name: str) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name}}


def test_no_object_wants_no_watch() -> None:
    _, handler = heard()
    assert watches_of_keys(frozenset(), res=ACCOUNTS, handler=handler,
                           alone=lambda key: "alone", shared="shared") == {}


def test_one_object_is_watched_by_its_name_with_the_selection_asked() -> None:
    _, handler = heard()
    wanted = watches_of_keys(frozenset({("ns", "a")}), res=ACCOUNTS, handler=handler,
                             alone=lambda key: "alone/" + "/".join(key), shared="shared",
                             select=Selection(metadata_only=True))
    [(name, (res, select, on_event))] = wanted.items()
    assert name == "alone/ns/a" and res == ACCOUNTS and on_event is handler
    assert select == Selection(namespace="ns", field_selector="metadata.name=a",
                               metadata_only=True)


def test_a_cluster_scoped_object_is_watched_across_the_cluster() -> None:
    _, handler = heard()
    [(_, select, _)] = watches_of_keys(frozenset({("", "a")}), res=ACCOUNTS, handler=handler,
                                       alone=lambda key: "alone", shared="shared").values()
    assert select.namespace is None


def test_several_share_one_watch_that_keeps_and_hears_them_alone() -> None:
    names, handler = heard()
    keys = frozenset({("ns", "a"), ("ns", "b")})
    wanted = watches_of_keys(keys, res=ACCOUNTS, handler=handler, alone=lambda key: "alone",
                             shared="shared")
    [(name, (_, select, on_event))] = wanted.items()
    assert name == "shared"
    assert select == Selection(namespace="ns", keep=keys)
    for obj in (account("ns", "a"), account("ns", "other"), account("elsewhere", "b"),
                account("ns", "b")):
        on_event("ADDED", obj, None)
    assert names == ["a", "b"]


def test_several_in_different_namespaces_are_watched_across_the_cluster() -> None:
    _, handler = heard()
    keys = frozenset({("one", "a"), ("two", "a")})
    [(_, select, _)] = watches_of_keys(keys, res=ACCOUNTS, handler=handler,
                                       alone=lambda key: "alone", shared="shared").values()
    assert select.namespace is None and select.keep == keys
