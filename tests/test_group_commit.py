"""Group commit on both backends: reservations made side by side share one durable transaction,
each keeping its own outcome (clipbot/store/batching.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

import pytest

from clipbot.state import Card, CardKind
from clipbot.store import Store, StoreConflict, StoreError, open_store
from clipbot.store.batching import GroupCommit
from clipbot.store.connection import Connection, Database
from tests.test_store import CARD, CLIP


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def card(uuid: str, channel: str = "C1", kind: CardKind = CardKind.CARD) -> Card:
    return replace(CARD, clip=replace(CLIP, uuid=uuid), channel_id=channel, kind=kind)


class SlowDisk:
    """The store's database, its first commit held (a slow fsync) until `behind` more writes
    wait for the next one."""

    def __init__(self, group: GroupCommit, db: Database, behind: int) -> None:
        self._group, self._db, self._behind = group, db, behind
        self.held = threading.Event()

    def transaction(self, *, durable: bool = True) -> AbstractContextManager[Connection]:
        if not self.held.is_set():
            self.held.set()
            deadline = time.monotonic() + 10
            while self._group.queued < self._behind and time.monotonic() < deadline:
                time.sleep(0.001)
        return self._db.transaction(durable=durable)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def together(store: Store, calls: list[Callable[[], object]]) -> list[object]:
    """Runs each call in its own thread: the first alone in a commit held until all the others
    wait behind it, so they share the second. Each call's result or exception, in order."""
    group: GroupCommit = store._reservations  # type: ignore[attr-defined]
    disk = SlowDisk(group, group._db, len(calls) - 1)  # type: ignore[attr-defined]
    group._db = disk  # type: ignore[attr-defined]
    outcomes: list[object] = [None] * len(calls)

    def run(n: int) -> None:
        try:
            outcomes[n] = calls[n]()
        except Exception as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    threads[0].start()
    assert disk.held.wait(10)
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(20)
    return outcomes


def reserving(store: Store, cards: list[Card]) -> Callable[[], object]:
    return lambda: store.reserve(cards)


def test_reservations_side_by_side_share_a_commit(store: Store) -> None:
    """Eight channels reserving at once: the first commits alone, the seven that queued behind
    it in one transaction, and each returns once its card is written."""
    group: GroupCommit = store._reservations  # type: ignore[attr-defined]
    cards = [card("A", f"C{n}") for n in range(8)]
    outcomes = together(store, [reserving(store, [c]) for c in cards])
    assert outcomes == [None] * 8
    assert group.commits == 2
    assert sorted(c.channel_id for c in store.in_doubt()) == [f"C{n}" for n in range(8)]


def test_a_conflict_fails_only_its_own_reservation(store: Store) -> None:
    """In one commit, a reservation of a clip the channel has already (alone, or with others as
    a digest) is refused whole; the others in the same commit are written."""
    store.reserve([card("A")])
    outcomes = together(
        store,
        [
            reserving(store, [card("X", "C9")]),
            reserving(store, [card("A")]),
            reserving(store, [card("B")]),
            reserving(store, [card("E", kind=CardKind.DIGEST), card("A", kind=CardKind.DIGEST)]),
            reserving(store, [card("A", "C2")]),
        ],
    )
    assert [type(o) for o in outcomes] == [
        type(None),
        StoreConflict,
        type(None),
        StoreConflict,
        type(None),
    ]
    assert store.posted_uuids("C1", ["A", "B", "E"]) == {"A", "B"}
    assert (store.posted_uuids("C2", ["A"]), store.posted_uuids("C9", ["X"])) == ({"A"}, {"X"})


def test_an_error_fails_every_write_of_its_commit(store: Store) -> None:
    """A write that fails takes its whole transaction with it: the writes committed with it
    fail too (none is half written), and the writes after them go on."""
    group: GroupCommit = store._reservations  # type: ignore[attr-defined]

    def broken(db: Connection) -> None:
        db.run("INSERT INTO no_such_table VALUES (1)")

    outcomes = together(
        store,
        [
            reserving(store, [card("A")]),
            reserving(store, [card("B")]),
            lambda: group.write(broken),
        ],
    )
    assert outcomes[0] is None
    assert isinstance(outcomes[1], StoreError) and outcomes[2] is outcomes[1]
    assert store.posted_uuids("C1", ["A", "B"]) == {"A"}
    store.reserve([card("B")])
    assert store.posted_uuids("C1", ["A", "B"]) == {"A", "B"}
