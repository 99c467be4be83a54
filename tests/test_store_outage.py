"""PostgreSQL going away for a while and coming back: the store answers again as soon as the
server does, however long the outage was (the pool's reconnection backoff must not leave the
replicas waiting for minutes after the database is back)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from clipbot import health
from clipbot.leader import Role
from clipbot.metrics import Metrics
from clipbot.store import StoreUnavailable
from clipbot.store.postgres import CONNECT_TIMEOUT_S, PostgresStore
from tests import postgres
from tests.bolt import eventually
from tests.fakes.rhombus import FakeRhombus
from tests.fakes.slack import FakeSlack
from tests.world import World

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


def _clipbot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real command line, with only `env` (no .env file: the working folder is empty)."""
    return subprocess.run(
        [sys.executable, "-m", "clipbot", *args],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=env["HOME"],
    )


@pytest.fixture
def unreachable(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The fakes' environment with a PostgreSQL URL where no server listens (one that is
    down or restarting), a password in it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://clipbot:{PASSWORD}@127.0.0.1:{port}/clipbot"
    return {**env, "CLIPBOT_DATABASE_URL": url, "HOME": str(tmp_path)}


PASSWORD = "pg-Secret-0000"


def test_a_database_that_does_not_answer_at_start_is_not_bad_configuration(
    unreachable: dict[str, str],
) -> None:
    """`clipbot run` exits 1 (a supervisor restarts it; 2 would tell systemd not to), saying
    the database does not answer; no pool warnings, no password."""
    done = _clipbot(unreachable, "run")
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("clipbot: CLIPBOT_DATABASE_URL: PostgreSQL at 127.0.0.1:")
    assert "does not answer" in line and "Connection refused" in line
    assert PASSWORD not in done.stderr


def test_healthcheck_on_a_database_that_does_not_answer(unreachable: dict[str, str]) -> None:
    """One line, unhealthy (1), not bad configuration (2)."""
    done = _clipbot(unreachable, "healthcheck")
    assert (done.returncode, done.stderr) == (1, "")
    [line] = done.stdout.splitlines()
    assert line.startswith("unhealthy: the database does not answer (PostgreSQL at 127.0.0.1:")
    assert PASSWORD not in line


def test_a_database_that_refuses_us_is_bad_configuration(
    own_server: postgres.Cluster, env: dict[str, str], tmp_path: Path
) -> None:
    """The server answers but there is no such database: that a restart cannot fix (2)."""
    url = own_server.url.rsplit("/", 1)[0] + "/no_such_database"
    done = _clipbot({**env, "CLIPBOT_DATABASE_URL": url, "HOME": str(tmp_path)}, "run")
    assert done.returncode == 2
    assert 'database "no_such_database" does not exist' in done.stderr
    assert len(done.stderr.splitlines()) == 2  # "invalid configuration:" and the one problem


def test_metrics_are_served_while_the_database_is_away(own_server: postgres.Cluster) -> None:
    """A scrape during a database outage still answers, every metric in it: the feed lag
    keeps growing from the newest position read before (the outage is when they matter)."""
    store = PostgresStore(own_server.url)
    clock = [1_000.0]
    metrics = Metrics(store.position, is_leader=lambda: False, now=lambda: clock[0])
    try:
        store.advance(990_000)
        assert _samples(metrics)["clipbot_feed_lag_seconds"] == 10.0
        own_server.stop()
        clock[0] = 1_060.0
        scraped = _samples(metrics)
        assert scraped["clipbot_feed_lag_seconds"] == 70.0
        assert scraped["clipbot_leader"] == 0.0
    finally:
        store.close()


def _samples(metrics: Metrics) -> dict[str, float]:
    """The gauges of one scrape, parsed back as Prometheus reads them."""
    text = generate_latest(metrics.registry).decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


def _get(app: Callable[..., Iterable[bytes]], path: str) -> tuple[str, str]:
    """One GET through the health endpoints' WSGI app: status line and body."""
    answer: list[str] = []
    body = b"".join(
        app({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, lambda s, h: answer.append(s))
    )
    return answer[0], body.decode()


def test_readiness_and_metrics_answer_at_once_while_the_database_is_away(
    own_server: postgres.Cluster, rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path
) -> None:
    """/readyz and /metrics answer within a probe's timeout during an outage: before the lease
    has noticed, the read waits at most QUICK_WAIT_S for a connection (not the pool's 5 s);
    once the lease could not be renewed, they answer from that, without asking the pool."""
    world = World(rhombus, slack, tmp_path / "unused", database_url=own_server.url)
    bot = world.bot
    app = health.app(bot.metrics, health.readiness(lambda: True, bot.quick_position))
    pool = world.store._db._pool  # type: ignore[attr-defined]  # the pool's own figures
    try:
        assert _get(app, "/readyz") == ("200 OK", "ready\n")
        own_server.stop()
        waited = pool.get_stats().get("requests_wait_ms", 0)
        assert _get(app, "/readyz") == (
            "503 Service Unavailable",
            "not ready: the store does not answer (StoreUnavailable)\n",
        )
        waited = pool.get_stats().get("requests_wait_ms", 0) - waited
        assert waited < CONNECT_TIMEOUT_S * 1000  # the pool alone would have waited 5 s
        assert bot.leadership.renew() is False and bot.leadership.role is Role.STORE_DOWN
        asked = pool.get_stats().get("requests_num", 0)
        assert _get(app, "/readyz")[0] == "503 Service Unavailable"
        status, text = _get(app, "/metrics")
        assert status == "200 OK" and "clipbot_feed_lag_seconds" in text
        assert pool.get_stats().get("requests_num", 0) == asked  # not asked: known to be away
    finally:
        own_server.start()
        world.close()


def test_an_outage_is_logged_when_it_starts_and_ends_not_per_reconnection_attempt(
    own_server: postgres.Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """While PostgreSQL is away the pool tries to reconnect again and again; the log says so
    when the connections start failing (or fail differently) and once when one is made again,
    never a psycopg_pool warning per attempt."""
    caplog.set_level(logging.INFO)
    store = PostgresStore(own_server.url)
    pool = store._db._pool  # type: ignore[attr-defined]  # the pool's own figures
    try:
        own_server.stop()
        down_until = time.monotonic() + 8.0
        while time.monotonic() < down_until:  # a replica keeps asking, as its lease job does
            with pytest.raises(StoreUnavailable):
                store.position()
            time.sleep(0.5)
        own_server.start()
        assert store.position() is None
        recovered = f"PostgreSQL at 127.0.0.1:{own_server.port}/postgres recovered"
        assert eventually(lambda: any(recovered in r.getMessage() for r in caplog.records))
    finally:
        store.close()
    attempts = pool.get_stats().get("connections_errors", 0)
    said = [r for r in caplog.records if r.name.startswith(("psycopg", "clipbot.store"))]
    assert [r for r in said if r.name.startswith("psycopg")] == []
    lines = [r.getMessage() for r in said]
    failing = recovered.replace("recovered", "failing since ")
    assert all(line.startswith(failing) for line in lines[:-1]) and len(lines) >= 2
    assert lines[-1].startswith(f"{recovered} after ")
    failing = lines[:-1]  # each says a new problem (they share the outage's start)
    assert len(set(failing)) == len(failing) and attempts > len(lines)  # not one per attempt
