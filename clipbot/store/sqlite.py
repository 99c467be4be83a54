"""The SQLite backend: one file, one connection shared by the process's threads."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from clipbot import schema
from clipbot.store.connection import Connection, split_script
from clipbot.store.errors import StoreConflict, StoreError, StoreOpenError, StoreUnavailable
from clipbot.store.sql import SqlStore


class SqliteStore(SqlStore):
    """The store in one SQLite file (`:memory:` for a throwaway one)."""

    def __init__(self, path: str) -> None:
        super().__init__(SqliteDatabase(path))


class SqliteDatabase:
    """One SQLite connection behind a lock; writes in BEGIN IMMEDIATE transactions."""

    clock = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

    def __init__(self, path: str) -> None:
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except (sqlite3.Error, StoreError) as exc:
            raise StoreOpenError(f"cannot open the SQLite database {path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self._lock, _errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Connection(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self._lock, _errors():
            yield Connection(self._db)

    def schema_version(self) -> int:
        with self.reading() as db:
            return int(db.scalar("PRAGMA user_version"))

    def _migrate(self) -> None:
        with self.transaction() as db:
            version = int(db.scalar("PRAGMA user_version"))
            for number, script in enumerate(schema.MIGRATIONS[version:], start=version + 1):
                for statement in split_script(script):
                    db.run(statement)
                db.run(f"PRAGMA user_version = {number}")


@contextmanager
def _errors() -> Iterator[None]:
    """sqlite3's errors as the store's own."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise StoreConflict(str(exc)) from exc
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreUnavailable(str(exc)) from exc
        raise StoreError(str(exc)) from exc
    except sqlite3.Error as exc:
        raise StoreError(str(exc)) from exc
