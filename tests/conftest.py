"""Shared fixtures: the fake servers and an environment pointing at them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import postgres
from tests.fakes import rhombus as fake_rhombus
from tests.fakes import slack as fake_slack
from tests.fakes.settings import fake_settings


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """`clipbot.cli.main` configures logging for the whole process (root handler and level);
    each test starts from, and leaves, the logging pytest set up."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quieted = ("httpx", "httpcore", "apscheduler.executors.default")  # see logs.configure
    levels = {name: logging.getLogger(name).level for name in quieted}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def rhombus() -> Iterator[fake_rhombus.FakeRhombus]:
    server = fake_rhombus.FakeRhombus().start()
    yield server
    server.stop()


@pytest.fixture
def slack(request: pytest.FixtureRequest) -> Iterator[fake_slack.FakeSlack]:
    """The fake Slack; a test fails if anything it sent broke Slack's limits, unless it is
    marked `slack_refusals` (it provokes them on purpose)."""
    server = fake_slack.FakeSlack().start()
    yield server
    server.stop()
    if request.node.get_closest_marker("slack_refusals") is None:
        assert server.refused == [], "the fake Slack refused a message or view for its limits"


@pytest.fixture
def env(
    rhombus: fake_rhombus.FakeRhombus, slack: fake_slack.FakeSlack, tmp_path: Path
) -> dict[str, str]:
    """A complete environment for clipbot against the fakes, with its store in tmp_path."""
    return fake_settings(rhombus, slack, f"sqlite:///{tmp_path / 'clipbot.db'}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """One real PostgreSQL server for the whole session (see tests/postgres.py)."""
    with postgres.cluster() as server:
        yield server.url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's server."""
    return postgres.fresh_database(postgres_server)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database's CLIPBOT_DATABASE_URL, once on each backend: an SQLite file in the
    test's directory, then a database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 's.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
