"""SQLite's durable commits wait for the disk outside the store's lock (clipbot/store/sqlite.py):
a confirm is not kept waiting behind a reservation's fsync, and the reservation returns only
once the WAL is synced."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot.store import Store, StoreError, open_store, sqlite
from tests.test_group_commit import card


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A SQLite store in WAL mode holding one card reserved, A in C1."""
    opened = open_store(f"sqlite:///{tmp_path / 's.db'}")
    opened.reserve([card("A")])
    yield opened
    opened.close()


def test_a_confirm_goes_ahead_while_a_reservation_waits_for_the_disk(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    disk_busy, disk_free = threading.Event(), threading.Event()

    def slow_fsync(path: str) -> None:
        disk_busy.set()
        assert disk_free.wait(10)
        synced.append(path)

    monkeypatch.setattr(sqlite, "_fsync", slow_fsync)
    returned = threading.Event()

    def reserve_b() -> None:
        store.reserve([card("B")])
        returned.set()

    reserving = threading.Thread(target=reserve_b)
    reserving.start()
    assert disk_busy.wait(10)
    # The reservation is committed and waiting for the disk; the store's lock is free.
    store.confirm("C1", ["A"], "1.000100")
    assert not returned.is_set()  # a durable write returns only once it is on disk
    disk_free.set()
    reserving.join(10)
    assert returned.is_set()
    assert synced == [f"{tmp_path / 's.db'}-wal"]
    assert [(c.clip.uuid, c.ts) for c in store.cards("C1")] == [("A", "1.000100"), ("B", None)]


def test_non_durable_writes_do_not_wait_for_the_disk(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    monkeypatch.setattr(sqlite, "_fsync", synced.append)
    store.confirm("C1", ["A"], "1.000100")
    assert synced == []
    store.release("C1", ["B"])  # durable
    assert synced == [f"{tmp_path / 's.db'}-wal"]


def test_a_sync_that_cannot_be_done_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"cannot sync .*missing-wal to disk"):
        sqlite._fsync(str(tmp_path / "missing-wal"))
