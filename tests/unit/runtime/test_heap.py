"""The start's heap: the collector sees imports no more, and what the start leaves
alive is frozen once the burst is over, its cyclic garbage collected first."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from autopilot.runtime.heap import StartHeap
from tests.support.wait import eventually


@pytest.fixture(autouse=True)
def _collector_as_before() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()


class Node:
    """A container that can sit in a reference cycle and be watched dying."""

    def __init__(self) -> None:
        self.other: Node | None = None


def garbage_cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


async def test_settle_collects_the_bursts_cycles_then_freezes_the_rest() -> None:
    heap = StartHeap()
    heap.hold()
    frozen_at_hold = gc.get_freeze_count()
    assert heap.held and frozen_at_hold > 0  # what the imports left alive
    dead = garbage_cycle()
    alive = [Node() for _ in range(100)]
    heap.settle()
    assert not heap.held
    assert dead() is None  # collected, not frozen for good
    assert gc.get_freeze_count() >= frozen_at_hold + len(alive)
    assert gc.isenabled()
    heap.settle()  # a second call changes nothing
    assert not heap.held


async def test_a_start_that_never_drains_settles_all_the_same() -> None:
    heap = StartHeap()
    heap.hold(at_most=0.05)
    await eventually(lambda: not heap.held, timeout=5, what="the hold's time limit")


async def test_a_collector_switched_off_by_someone_else_is_left_alone() -> None:
    gc.disable()
    frozen = gc.get_freeze_count()
    heap = StartHeap()
    heap.hold()
    assert not heap.held and gc.get_freeze_count() == frozen
    heap.settle()
    assert not gc.isenabled()
