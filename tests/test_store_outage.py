"""PostgreSQL going away for a while and coming back: the store answers again as soon as the
server does, however long the outage was (the pool's reconnection backoff must not leave the
replicas waiting for minutes after the database is back)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from clipbot.store import StoreUnavailable
from clipbot.store.postgres import PostgresStore
from tests import postgres

# Long enough for psycopg_pool's own backoff (1, 2, 4, 8, 16 s…) to leave a gap longer than a
# store call waits for a connection.
OUTAGE_S = 16.0


@pytest.fixture
def own_server() -> Iterator[postgres.Cluster]:
    """A server of the test's own, to take away and bring back."""
    with postgres.cluster() as server:
        yield server


def test_store_answers_once_the_database_is_back_after_a_long_outage(
    own_server: postgres.Cluster,
) -> None:
    store = PostgresStore(own_server.url)
    try:
        assert store.position() is None
        own_server.stop()
        down_until = time.monotonic() + OUTAGE_S
        while time.monotonic() < down_until:  # a replica keeps asking, as its lease job does
            with pytest.raises(StoreUnavailable):
                store.position()
            time.sleep(0.5)
        own_server.start()
        assert store.position() is None  # the first call after the server is back answers
    finally:
        store.close()
