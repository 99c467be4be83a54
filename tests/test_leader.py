"""Leadership: one replica polls; a dead, hung or cut-off leader is replaced; the database
going away stops polling without a crash, and its return is noticed."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot.leader import Leadership, Role
from clipbot.store import SqliteStore, StoreUnavailable
from clipbot.store.postgres import PostgresStore
from tests import postgres
from tests.bolt import eventually


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_single_process_leads(tmp_path: Path) -> None:
    """On SQLite the one process claims the lease, and the election hook runs once."""
    store = SqliteStore(str(tmp_path / "s.db"))
    elected: list[bool] = []
    lead = Leadership(store, lease_s=30, name="solo", on_elected=lambda: elected.append(True))
    assert (lead.renew(), lead.renew(), lead.is_leader, lead.role) == (
        True,
        True,
        True,
        Role.LEADER,
    )
    assert (elected, store.lease_holder()) == ([True], "solo")
    store.close()


def test_hung_leader_stops_trusting_its_lease(tmp_path: Path) -> None:
    """A leader that did not renew for a whole lease (a hang) stops leading by its own clock."""
    store = SqliteStore(str(tmp_path / "s.db"))
    clock = Clock()
    lead = Leadership(store, lease_s=30, name="A", monotonic=clock)
    ran: list[int] = []
    job = lead.only(lambda: ran.append(1))
    lead.renew()
    job()
    clock.now += 29.9
    job()
    clock.now += 0.2
    job()
    assert (ran, lead.is_leader, lead.role) == ([1, 1], False, Role.FOLLOWER)
    store.close()


def test_one_leader_and_takeover(postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Three replicas: one leads; when it stops renewing, another takes over after the lease;
    the old one, back, follows."""
    stores = [PostgresStore(postgres_url) for _ in range(3)]
    replicas = [Leadership(s, lease_s=0.3, name=f"R{i}") for i, s in enumerate(stores)]
    assert [r.renew() for r in replicas] == [True, False, False]
    assert [r.role for r in replicas] == [Role.LEADER, Role.FOLLOWER, Role.FOLLOWER]
    time.sleep(0.35)  # R0 is dead: its lease runs out
    assert [r.renew() for r in replicas[1:]] == [True, False]
    caplog.set_level(logging.INFO, logger="clipbot.leader")
    caplog.clear()
    assert (replicas[0].renew(), replicas[0].role) == (False, Role.FOLLOWER)
    said = [r.getMessage() for r in caplog.records if r.name == "clipbot.leader"]
    assert said == ["replica R0 lost the lease: another replica leads now"]
    for s in stores:
        s.close()


def test_clean_stop_hands_over_at_once(postgres_url: str) -> None:
    """A leader that resigns (SIGTERM) lets the next replica lead without waiting."""
    first, second = PostgresStore(postgres_url), PostgresStore(postgres_url)
    a, b = Leadership(first, lease_s=60, name="A"), Leadership(second, lease_s=60, name="B")
    assert (a.renew(), b.renew()) == (True, False)
    a.resign()
    assert (a.is_leader, b.renew(), second.lease_holder()) == (False, True, "B")
    first.close()
    second.close()


@pytest.fixture
def own_server() -> Iterator[postgres.Cluster]:
    """A server of the test's own, to take away and bring back."""
    with postgres.cluster() as server:
        yield server


def test_database_down_and_back(
    own_server: postgres.Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """The database going away: the leader stops polling and says why, reads raise
    StoreUnavailable, nothing crashes; when it is back the pool reconnects and it leads again."""
    store = PostgresStore(own_server.url)
    lead = Leadership(store, lease_s=30, name="A")
    ran: list[int] = []
    poll = lead.only(lambda: ran.append(1))
    lead.renew()
    poll()
    caplog.set_level(logging.INFO, logger="clipbot.leader")
    caplog.clear()
    own_server.stop()
    assert (lead.renew(), lead.role, lead.is_leader) == (False, Role.STORE_DOWN, False)
    poll()
    with pytest.raises(StoreUnavailable):
        store.position()
    own_server.start()
    assert eventually(lead.renew, timeout=30)  # the pool reconnects with a backoff
    assert lead.role == Role.LEADER
    poll()
    assert ran == [1, 1]
    said = [r.getMessage() for r in caplog.records if r.name == "clipbot.leader"]
    assert said[0].startswith(
        "replica A stops polling: the database is unavailable (PostgreSQL at 127.0.0.1:"
    )
    assert said[1:] == ["replica A is now the leader: it polls and sends reminders"]
    store.close()
