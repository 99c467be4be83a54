"""The SQLite store: schema versions, upgrades that keep data, and one-way feed position."""

from __future__ import annotations

from pathlib import Path

import pytest

from clipbot import store as store_module
from clipbot.config import ConfigError
from clipbot.schema import MIGRATIONS
from clipbot.state import Subscription
from clipbot.store import SqliteStore, open_store

SUB = Subscription("C1", "T1", "U1", 10, start_ms=5, start_uuids=("A",), camera="dock")


def test_reopen_keeps_data(tmp_path: Path) -> None:
    """Closing and reopening the file keeps subscriptions and position, at the same version."""
    path = str(tmp_path / "s.db")
    first = SqliteStore(path)
    first.subscribe(SUB)
    first.advance(42)
    first.close()
    again = SqliteStore(path)
    assert (again.subscriptions(), again.position(), again.schema_version) == (
        [SUB],
        42,
        len(MIGRATIONS),
    )
    again.close()


def test_upgrade_runs_only_new_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A later release's migration runs once on an existing database, keeping its rows."""
    path = str(tmp_path / "s.db")
    old = SqliteStore(path)
    old.subscribe(SUB)
    old.close()
    latest = len(MIGRATIONS) + 1
    monkeypatch.setattr(
        store_module,
        "MIGRATIONS",
        (*store_module.MIGRATIONS, "ALTER TABLE subscriptions ADD COLUMN label TEXT"),
    )
    new = SqliteStore(path)
    assert (new.schema_version, new.subscriptions()) == (latest, [SUB])
    new.close()
    assert SqliteStore(path).schema_version == latest


def test_position_never_moves_back(tmp_path: Path) -> None:
    """advance() only moves the feed position forward."""
    s = SqliteStore(str(tmp_path / "s.db"))
    s.advance(100)
    s.advance(50)
    assert s.position() == 100
    s.close()


def test_postgres_not_yet(tmp_path: Path) -> None:
    """A PostgreSQL URL is refused with a clear message until that store exists."""
    with pytest.raises(ConfigError) as caught:
        open_store("postgresql://db/clipbot")
    assert caught.value.problems == [
        "CLIPBOT_DATABASE_URL: PostgreSQL is not supported by this release yet; use sqlite:///…"
    ]
