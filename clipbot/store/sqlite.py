"""The SQLite backend: one file, one connection shared by the process's threads."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from clipbot import schema
from clipbot.store.connection import Connection, split_script
from clipbot.store.errors import StoreConflict, StoreError, StoreOpenError, StoreUnavailable
from clipbot.store.sql import SqlStore


class SqliteStore(SqlStore):
    """The store in one SQLite file (`:memory:` for a throwaway one).

    `owner`: this process polls and posts from the file, so it takes it for its whole life (an
    OS lock on `<file>.lock`, released when the store closes or the process ends, however it
    ends); StoreOpenError at once when another process owns it. Readers need no lock.
    """

    def __init__(self, path: str, *, owner: bool = False, migrate: bool = True) -> None:
        super().__init__(SqliteDatabase(path, owner=owner, migrate=migrate))


class SqliteDatabase:
    """One SQLite connection behind a lock; writes in BEGIN IMMEDIATE transactions.

    In WAL mode every commit is made with synchronous=NORMAL (written to the WAL, no fsync) and
    a durable one then waits for the disk with an fsync of the WAL file AFTER the lock is
    released: the same durability as synchronous=FULL (which only adds that fsync at commit),
    but other threads' transactions (a confirm, another reservation) run while it waits. A
    checkpoint fsyncs the WAL before copying it, so frames overwritten by a WAL restart are
    already in the database file, and fsyncing the file again is harmless.
    """

    clock = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

    def __init__(self, path: str, *, owner: bool = False, migrate: bool = True) -> None:
        self._lock = threading.RLock()
        self._owner_lock = _own(path) if owner and path != ":memory:" else None
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._wal: str | None = None  # the WAL file, fsynced after a durable commit
            if path != ":memory:" and migrate:  # a reader changes nothing, not even this
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                self._wal = path + "-wal" if str(mode).lower() == "wal" else None
            sync = "NORMAL" if self._wal else "FULL"
            self._db.execute(f"PRAGMA synchronous={sync}")
            self._durable_sync = sync == "FULL"
            if migrate:
                self._migrate()
            else:
                self.schema_version()  # reads the file: one that is not a database says so
        except (sqlite3.Error, StoreError) as exc:
            self._release()
            raise StoreOpenError(
                f"cannot open the SQLite database {path}: {_reason(path, exc)}"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._release()

    def _release(self) -> None:
        if self._owner_lock is not None:
            os.close(self._owner_lock)
            self._owner_lock = None

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Connection]:
        with self._lock, _errors():
            # Not WAL (a filesystem without it): synchronous=FULL, the fsync under the lock.
            toggle = not durable and self._durable_sync
            if toggle:  # committed without an fsync (see Database.transaction)
                self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield Connection(self._db)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            finally:
                if toggle:
                    self._db.execute("PRAGMA synchronous=FULL")
        if durable and self._wal is not None:
            _fsync(self._wal)  # outside the lock: see the class

    @contextmanager
    def reading(self, *, wait_s: float | None = None) -> Iterator[Connection]:
        if not self._lock.acquire(timeout=-1 if wait_s is None else wait_s):
            raise StoreUnavailable(f"the database was busy for {wait_s}s")
        try:
            with _errors():
                yield Connection(self._db)
        finally:
            self._lock.release()

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


def _fsync(path: str) -> None:
    """Waits for the disk to hold the file's writes (any descriptor's); StoreError if it cannot."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot sync {path} to disk: {exc}") from None


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


def _own(path: str) -> int:
    """A descriptor holding an exclusive lock beside the database; StoreOpenError if taken."""
    try:
        fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreOpenError(
            f"cannot open the SQLite database {path}: {_reason(path, exc)}"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreOpenError(
            f"another clipbot is using {path}; stop it first (several replicas need PostgreSQL)"
        ) from None
    return fd


def _reason(path: str, exc: Exception) -> str:
    """Why the database at `path` could not be opened, in a few words."""
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        return "its folder does not exist"
    if os.path.isdir(path):
        return "it is a folder"
    text = str(exc)
    if isinstance(exc, PermissionError) or "readonly" in text or "permission" in text.lower():
        return "permission denied"
    return "not a SQLite database" if "not a database" in text else text
