"""The PostgreSQL backend: a connection pool shared by every replica's threads.

Needs the `postgres` extra (psycopg 3 and psycopg_pool). The schema scripts in schema.py are
written for SQLite and translated here by three rules: INTEGER is BIGINT (milliseconds do not
fit 32 bits), AUTOINCREMENT keys are BIGSERIAL, and every table gets a `rowid BIGSERIAL`
column, standing in for SQLite's implicit insertion-ordered rowid.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from clipbot import schema
from clipbot.logs import Streak
from clipbot.store.connection import Connection, split_script
from clipbot.store.errors import StoreConflict, StoreError, StoreOpenError, StoreUnavailable
from clipbot.store.sql import SqlStore

# pg_advisory_xact_lock key held while the schema is created or upgraded: "clipbot" in ASCII.
MIGRATION_LOCK = 0x636C6970626F74
CONNECT_TIMEOUT_S = 5.0
# psycopg_pool retries a lost connection with a doubling backoff (1, 2, 4 … 64 s) for this long
# before giving up; it is cut to CONNECT_TIMEOUT_S so that the next checkout starts afresh at
# 1 s: a replica answers again within seconds of the database's return, however long it was gone.
RECONNECT_TIMEOUT_S = CONNECT_TIMEOUT_S

log = logging.getLogger(__name__)
_POOLS = itertools.count(1)  # pools are named apart, so each one's outage is its own


class PostgresStore(SqlStore):
    """The store in a PostgreSQL database, shared by any number of replicas."""

    def __init__(self, url: str, *, max_connections: int = 8, migrate: bool = True) -> None:
        super().__init__(PostgresDatabase(url, max_connections=max_connections, migrate=migrate))


class PostgresDatabase:
    """A psycopg pool; broken connections are noticed on checkout and replaced."""

    clock = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"

    def __init__(self, url: str, *, max_connections: int = 8, migrate: bool = True) -> None:
        self._where = describe(url)
        self._name = f"clipbot-{next(_POOLS)}"
        self._outage = Streak(f"PostgreSQL at {self._where}", logger=log, tries="attempt")
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": 5},
            check=ConnectionPool.check_connection,
            timeout=CONNECT_TIMEOUT_S,
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            open=False,
            name=self._name,
        )
        first_contact(url)  # a server that does not answer is not a configuration problem
        PoolOutage.watch(self._name, self._outage)
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
            if migrate:
                self._migrate()
        except (PoolTimeout, StoreError) as exc:
            self.close()
            raise StoreOpenError(
                f"cannot open PostgreSQL at {self._where}: {_reason(exc)}"
            ) from None

    def close(self) -> None:
        self._pool.close()
        PoolOutage.forget(self._name)

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Connection]:
        with self._errors(), self._pool.connection() as raw, raw.transaction():
            if not durable:  # see Database.transaction
                raw.execute("SET LOCAL synchronous_commit = off")
            yield Connection(raw, to_pyformat)

    @contextmanager
    def reading(self, *, wait_s: float | None = None) -> Iterator[Connection]:
        with self._errors(), self._pool.connection(timeout=wait_s) as raw:
            yield Connection(raw, to_pyformat)

    def schema_version(self) -> int:
        """The schema's version; 0 in a database clipbot never set up."""
        with self.reading() as db:
            if db.scalar("SELECT to_regclass('clipbot_schema')") is None:
                return 0
            return int(db.scalar("SELECT version FROM clipbot_schema") or 0)

    def _migrate(self) -> None:
        """Brings the schema up to date; replicas starting together queue on one advisory lock."""
        with self.transaction() as db:
            db.run("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            db.run("CREATE TABLE IF NOT EXISTS clipbot_schema (version INTEGER NOT NULL)")
            version = db.scalar("SELECT version FROM clipbot_schema")
            if version is None:
                db.run("INSERT INTO clipbot_schema (version) VALUES (0)")
                version = 0
            for number, script in enumerate(schema.MIGRATIONS[version:], start=version + 1):
                for statement in split_script(script):
                    db.run(to_postgres_ddl(statement))
                db.run("UPDATE clipbot_schema SET version = ?", (number,))

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """psycopg's errors as the store's own, naming the server but never the password."""
        try:
            yield
            self._outage.succeeded()  # answered: an outage the pool logged is over
        except psycopg.errors.UniqueViolation as exc:
            raise StoreConflict(_reason(exc)) from exc
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailable(f"PostgreSQL at {self._where}: {_reason(exc)}") from exc
        except psycopg.Error as exc:
            raise StoreError(_reason(exc)) from exc


class PoolOutage(logging.Filter):
    """psycopg_pool's warnings about a database that went away, as one outage per pool: the
    pool warns at every reconnection attempt (several a second while it lasts); these go to
    the pool's `Streak` instead, which logs when the connections start failing or fail
    differently, a reminder every 5 minutes, and once when the database answers again. The
    pool's other lines stay as they are."""

    _streaks: ClassVar[dict[str, Streak]] = {}  # pool name -> its outage
    _lock: ClassVar[threading.Lock] = threading.Lock()
    _installed: ClassVar[bool] = False

    @classmethod
    def watch(cls, pool_name: str, streak: Streak) -> None:
        """Sends the reconnection warnings of the pool named `pool_name` to `streak`."""
        with cls._lock:
            cls._streaks[pool_name] = streak
            if not cls._installed:
                logging.getLogger("psycopg.pool").addFilter(cls())
                cls._installed = True

    @classmethod
    def forget(cls, pool_name: str) -> None:
        with cls._lock:
            cls._streaks.pop(pool_name, None)

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        if text.startswith("error connecting in"):
            name, error = record.args if isinstance(record.args, tuple) else (None, None)
            streak = self._streaks.get(str(name))
            if streak is not None:
                streak.failed(_reason(error) if isinstance(error, BaseException) else text)
            return False
        # The same outage, said by the failures above.
        return not text.startswith(("reconnection attempt in pool", "discarding broken"))


@functools.lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """A portable query's `?` placeholders as psycopg's `%s` (and literal `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def to_postgres_ddl(statement: str) -> str:
    """One SQLite schema statement in PostgreSQL's words (see the module docstring)."""
    statement = statement.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
    statement = re.sub(r"\bINTEGER\b", "BIGINT", statement)
    return re.sub(r"^(CREATE TABLE \w+ \()", r"\1\n        rowid BIGSERIAL NOT NULL,", statement)


# A server that answers a connection with one of these is busy or restarting, not refusing us.
PASSING_REFUSALS = ("starting up", "shutting down", "too many", "recovery mode")


def first_contact(url: str) -> None:
    """One connection to the server at `url`, at once: StoreUnavailable when it does not
    answer (down, restarting, unreachable: try again later), StoreOpenError when it answers
    with a refusal a retry cannot fix (no such database or role, authentication failed)."""
    try:
        psycopg.connect(url, connect_timeout=int(CONNECT_TIMEOUT_S)).close()
    except psycopg.Error as exc:
        reason = _reason(exc)
        if "FATAL:" in reason and not any(word in reason for word in PASSING_REFUSALS):
            raise StoreOpenError(f"cannot open PostgreSQL at {describe(url)}: {reason}") from None
        raise StoreUnavailable(f"PostgreSQL at {describe(url)} does not answer: {reason}") from None


def describe(url: str) -> str:
    """host:port/database of a PostgreSQL URL, without user or password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}{parts.path or '/'}"


def _reason(exc: BaseException) -> str:
    """The first line of a driver error: what went wrong, not the connection string."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
