"""Reading a streaming list's state off a stream: all of it at its end, or nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from autopilot.kube.client import ApiError
from autopilot.kube.watchlist import (
    INITIAL_EVENTS_END,
    EndBookmarkMissing,
    initial_state,
    refuses_streaming_lists,
)


def added(name: str, rv: int) -> dict[str, Any]:
    return {"type": "ADDED", "object": {"metadata": {"name": name, "namespace": "ns",
                                                     "resourceVersion": str(rv)}}}


def bookmark(rv: int, *, end: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"type": "BOOKMARK", "object": {"kind": "ConfigMap", "metadata": meta}}


async def stream(*events: dict[str, Any], then_stall: bool = False
                 ) -> AsyncIterator[dict[str, Any]]:
    for event in events:
        yield event
    if then_stall:
        await asyncio.Event().wait()  # a server that keeps the stream open, saying nothing


def kept(obj: dict[str, Any]) -> dict[str, Any]:
    return {**obj, "kept": True}


async def test_the_state_is_returned_at_its_end_and_the_stream_goes_on() -> None:
    events = stream(added("a", 5), bookmark(6, end=False), added("b", 7),
                    bookmark(9, end=True), added("c", 10))
    seen: list[int] = []
    state = await initial_state(events, within=5, complete=kept,
                                seen=lambda: seen.append(1))
    assert state is not None
    objects, rv = state
    assert rv == "9"
    assert sorted(objects) == [("ns", "a"), ("ns", "b")]
    assert all(obj["kept"] for obj in objects.values())
    assert len(seen) == 4
    after = [event async for event in events]  # the watch reads on from the same stream
    assert [e["object"]["metadata"]["name"] for e in after] == ["c"]


async def test_a_stream_ending_before_the_state_does_gives_nothing() -> None:
    assert await initial_state(stream(added("a", 5), added("b", 6)), within=5,
                               complete=kept, seen=lambda: None) is None


async def test_no_end_within_the_bound_means_the_server_ignores_streaming_lists() -> None:
    started = time.monotonic()
    with pytest.raises(EndBookmarkMissing, match=r"within 0\.3s"):
        await initial_state(stream(added("a", 5), bookmark(6, end=False), then_stall=True),
                            within=0.3, complete=kept, seen=lambda: None)
    assert time.monotonic() - started < 5


async def test_an_error_event_raises_its_status() -> None:
    status = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}
    with pytest.raises(ApiError) as raised:
        await initial_state(stream(added("a", 5), {"type": "ERROR", "object": status}),
                            within=5, complete=kept, seen=lambda: None)
    assert (raised.value.status, raised.value.reason) == (410, "Expired")


@pytest.mark.parametrize(("status", "refused"), [
    (400, True), (403, True), (422, True), (405, True),
    (401, False), (404, False), (410, False), (429, False), (500, False), (503, False)])
def test_which_answers_are_refusals(status: int, refused: bool) -> None:
    assert refuses_streaming_lists(ApiError(status, "X", "m")) is refused
