"""The small layer the store's queries run on: one connection or transaction, rows as dicts.

Queries are written once, with `?` placeholders; a backend's `Connection` is given the
function that turns them into its own paramstyle (PostgreSQL's `%s`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

Row = Mapping[str, Any]


class Connection:
    """Runs portable SQL on one DB-API connection (sqlite3 or psycopg 3)."""

    def __init__(self, raw: Any, translate: Callable[[str], str] = str) -> None:
        self._raw = raw
        self._translate = translate

    def one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        """The first row of a query, or None."""
        row = self._raw.execute(self._translate(sql), tuple(args)).fetchone()
        return None if row is None else dict(row)

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return [dict(row) for row in self._raw.execute(self._translate(sql), tuple(args))]

    def scalar(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.one(sql, args)
        return None if row is None else next(iter(row.values()))

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Runs a statement; how many rows it changed."""
        return int(self._raw.execute(self._translate(sql), tuple(args)).rowcount)

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Runs a statement once per row of arguments."""
        self._raw.cursor().executemany(self._translate(sql), [tuple(r) for r in rows])


class Database(Protocol):
    """A backend: hands out connections, owns the schema version, maps its errors to StoreError."""

    def transaction(self, *, durable: bool = True) -> AbstractContextManager[Connection]:
        """A connection inside a transaction: committed on exit, rolled back on an exception.

        `durable` False: the commit does not wait for the disk (no fsync; SQLite WAL with
        synchronous=NORMAL, PostgreSQL synchronous_commit=off). It still survives the process
        dying, and stays in commit order: a later durable commit makes it durable too. Only a
        crash of the machine itself may lose it, so it is for writes whose loss is recovered,
        like a card's confirmation (the card is then in doubt and settled from Slack's history).
        """
        ...

    def reading(self, *, wait_s: float | None = None) -> AbstractContextManager[Connection]:
        """A connection for reads that need no transaction. `wait_s`: wait at most this many
        seconds for one (StoreUnavailable after), instead of the backend's own timeout."""
        ...

    @property
    def clock(self) -> str:
        """An SQL expression for the database's own clock, in epoch milliseconds."""
        ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...


def split_script(script: str) -> Iterator[str]:
    """The statements of a migration script (no `;` inside a statement's text)."""
    return (s.strip() for s in script.split(";") if s.strip())
