"""The state store: subscriptions, the feed position, posted cards, triage and health.

`Store` (base.py) is what the rest of clipbot uses; `open_store` picks the backend from
`CLIPBOT_DATABASE_URL`: SQLite for one process, PostgreSQL for several replicas.
"""

from __future__ import annotations

from clipbot.store.base import Store
from clipbot.store.errors import StoreConflict, StoreError, StoreOpenError, StoreUnavailable
from clipbot.store.sqlite import SqliteStore

__all__ = [
    "SqliteStore",
    "Store",
    "StoreConflict",
    "StoreError",
    "StoreOpenError",
    "StoreUnavailable",
    "open_store",
]


def open_store(database_url: str, *, owner: bool = False, migrate: bool = True) -> Store:
    """The store at `database_url` (`sqlite:///path` or `postgresql://…`), schema up to date.

    `migrate` False: the schema is left as it is (a reader such as `clipbot healthcheck`
    changes nothing); compare `Store.schema_version` with `len(schema.MIGRATIONS)`.

    `owner`: this process polls and posts (`run`, `poll --once`); on SQLite it takes the file
    for its life, and a second owner is refused at once (see SqliteStore). PostgreSQL has room
    for several.

    Raises StoreOpenError when it cannot be opened (or is owned by another process), or when
    PostgreSQL is asked for without the `postgres` extra installed; StoreUnavailable when the
    PostgreSQL server does not answer (down or restarting: not a configuration problem).
    """
    if database_url.startswith("sqlite:///"):
        return SqliteStore(database_url.removeprefix("sqlite:///"), owner=owner, migrate=migrate)
    try:
        from clipbot.store.postgres import PostgresStore
    except ImportError:
        raise StoreOpenError(
            "PostgreSQL needs the postgres extra: pip install 'clipbot[postgres]'"
        ) from None
    return PostgresStore(database_url, migrate=migrate)
