"""The bounded map every per-object memory of the controller keeps its entries in."""

from __future__ import annotations

from autopilot.runtime.lru import LruMap


def test_beyond_the_bound_the_least_recently_used_goes() -> None:
    lru: LruMap[str, int] = LruMap(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # a use: b is now the oldest
    lru.put("c", 3)
    assert (lru.peek("a"), lru.peek("b"), lru.peek("c")) == (1, None, 3)
    assert len(lru) == 2


def test_a_peek_or_a_miss_is_not_a_use() -> None:
    lru: LruMap[str, int] = LruMap(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.peek("a") == 1 and lru.get("missing") is None
    lru.put("c", 3)  # a was not used since b: a goes
    assert (lru.peek("a"), lru.peek("b")) == (None, 2)


def test_a_put_of_a_known_key_replaces_and_uses_it() -> None:
    lru: LruMap[str, int] = LruMap(2)
    lru.put("a", 1)
    lru.put("b", 2)
    lru.put("a", 10)
    lru.put("c", 3)
    assert (lru.peek("a"), lru.peek("b"), len(lru)) == (10, None, 2)


def test_the_oldest_stale_entries_go_up_to_the_first_fresh_one() -> None:
    lru: LruMap[str, int] = LruMap(10)
    for key, age in (("old", 50), ("fresh", 1), ("older-but-used-later", 90)):
        lru.put(key, age)
    lru.drop_oldest_while(lambda age: age > 30)
    # Only the oldest end is looked at: the stale entry used after a fresh one stays.
    assert (lru.peek("old"), lru.peek("fresh"), lru.peek("older-but-used-later")) == (
        None, 1, 90)
    lru.drop_oldest_while(lambda age: True)
    assert len(lru) == 0


def test_drop_clear_and_a_bound_of_at_least_one() -> None:
    lru: LruMap[str, int] = LruMap(0)
    lru.put("a", 1)
    lru.put("b", 2)
    assert (lru.peek("a"), lru.peek("b")) == (None, 2)
    lru.drop("b")
    lru.drop("never-there")
    assert len(lru) == 0
    lru.put("c", 3)
    lru.clear()
    assert lru.peek("c") is None and len(lru) == 0
