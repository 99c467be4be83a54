"""`clipbot healthcheck`: the store's health record alone says whether the poller keeps up."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from clipbot import schema
from clipbot.cli import main
from clipbot.health import readiness, unhealthy
from clipbot.store import SqliteStore, StoreUnavailable
from tests.fakes.rhombus import FakeRhombus
from tests.fakes.slack import FakeSlack

NOW = 1_764_000_000_000
S = 1000  # ms


class TestUnhealthy:
    @pytest.mark.parametrize(
        ("last_success", "started", "expected"),
        [
            (NOW - 90 * S, NOW - 3600 * S, None),  # polled within 3 intervals of 30 s
            (None, NOW - 60 * S, None),  # started a minute ago, first poll still due
            (NOW - 5000 * S, NOW - 10 * S, None),  # restarted just now after a long stop
            (
                NOW - 91 * S,
                NOW - 3600 * S,
                "the last successful poll was 91s ago (polls are due every 30s)",
            ),
            (
                None,
                NOW - 7200 * S,
                "no successful poll since clipbot started 2h 0m ago (polls are due every 30s)",
            ),
            (
                NOW - 9000 * S,
                NOW - 3000 * S,
                "no successful poll since clipbot started 50m ago (polls are due every 30s)",
            ),
            (None, None, "clipbot run has never started on this database"),
        ],
    )
    def test_keeping_up(self, last_success: int | None, started: int | None, expected: str) -> None:
        """Healthy: a successful poll within 3 poll intervals, or a start less than that ago."""
        assert unhealthy(last_success, None, started, poll_seconds=30, now_ms=NOW) == expected

    @pytest.mark.parametrize(
        ("progress", "expected"),
        [
            (NOW - 60 * S, None),  # a long cycle still posting its backlog
            (NOW - 91 * S, "the last successful poll was 10m ago (polls are due every 30s)"),
        ],
    )
    def test_a_cycle_still_delivering(self, progress: int, expected: str | None) -> None:
        """A cycle that has not ended but delivered a card within 3 intervals keeps up."""
        why = unhealthy(
            NOW - 600 * S,
            None,
            NOW - 3600 * S,
            poll_seconds=30,
            now_ms=NOW,
            last_progress_ms=progress,
        )
        assert why == expected

    def test_last_error_on_the_same_line(self) -> None:
        """The last error is added, on one line and cut short."""
        why = unhealthy(
            NOW - 600 * S,
            "Rhombus failed:\n  HTTP 503" + "x" * 400,
            NOW - 3600 * S,
            poll_seconds=30,
            now_ms=NOW,
        )
        assert why is not None and "\n" not in why
        assert why.startswith(
            "the last successful poll was 10m ago (polls are due every 30s); "
            "last error: Rhombus failed: HTTP 503xxx"
        )
        assert len(why) < 400


class TestCommand:
    @pytest.fixture(autouse=True)
    def _here(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(tmp_path)

    def store(self, env: dict[str, str]) -> SqliteStore:
        return SqliteStore(env["CLIPBOT_DATABASE_URL"].removeprefix("sqlite:///"))

    def test_healthy_after_a_poll_without_network(
        self,
        env: dict[str, str],
        rhombus: FakeRhombus,
        slack: FakeSlack,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A recent successful poll: exit 0, "healthy", and neither Slack nor Rhombus asked."""
        store = self.store(env)
        store.record_start(NOW)
        store.record_success(NOW)
        store.close()
        assert main(["poll", "--once"], env) == 0
        rhombus.requests.clear()
        slack.calls.clear()
        capsys.readouterr()
        assert main(["healthcheck"], env) == 0
        assert capsys.readouterr().out == "healthy\n"
        assert (rhombus.requests, slack.calls) == ([], [])

    def test_not_keeping_up(self, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
        """No successful poll for long after the start: exit 1 and one line why."""
        store = self.store(env)
        store.record_start(NOW - 3_600_000)
        store.record_error(NOW - 60_000, "Rhombus event/getSavedClipsV2 failed: HTTP 503")
        store.close()
        assert main(["healthcheck"], env) == 1
        out = capsys.readouterr().out
        assert out.count("\n") == 1
        assert out.startswith("unhealthy: no successful poll since clipbot started ")
        assert out.endswith(
            "ago (polls are due every 30s); last error: "
            "Rhombus event/getSavedClipsV2 failed: HTTP 503\n"
        )

    def test_needs_no_credentials(
        self, env: dict[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Only the store's settings matter: no token or API key is required."""
        only = {"CLIPBOT_DATABASE_URL": env["CLIPBOT_DATABASE_URL"]}
        store = self.store(env)
        store.record_start(NOW)
        store.close()
        assert main(["healthcheck"], only) == 1
        assert capsys.readouterr().out.startswith("unhealthy: no successful poll since")

    def test_missing_database_is_not_created(
        self, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No database file yet: exit 1, and the file is not created by the check."""
        assert main(["healthcheck"], env) == 1
        url = env["CLIPBOT_DATABASE_URL"]
        assert capsys.readouterr().out == (
            f"unhealthy: no database at {url}: clipbot run has never started there\n"
        )
        assert not (tmp_path / "clipbot.db").exists()

    def test_unreadable_database_is_bad_configuration(
        self, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A file that is not a database: exit 2 naming CLIPBOT_DATABASE_URL, no traceback."""
        (tmp_path / "clipbot.db").write_text("not a database at all " * 100)
        assert main(["healthcheck"], env) == 2
        assert capsys.readouterr().err == (
            "clipbot: invalid configuration:\n"
            f"  - CLIPBOT_DATABASE_URL: cannot open the SQLite database {tmp_path}/clipbot.db:"
            " not a SQLite database\n"
        )

    @pytest.mark.parametrize("backend", ["sqlite", "postgres"])
    def test_an_empty_database_is_read_not_set_up(
        self,
        env: dict[str, str],
        tmp_path: Path,
        backend: str,
        request: pytest.FixtureRequest,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """An empty database (a new PostgreSQL one, an empty SQLite file): exit 1 saying clipbot
        never ran there, and healthcheck creates no table in it (it only reads)."""
        if backend == "sqlite":
            (tmp_path / "clipbot.db").touch()
            url = env["CLIPBOT_DATABASE_URL"]
        else:
            url = request.getfixturevalue("postgres_url")
        assert main(["healthcheck"], {**env, "CLIPBOT_DATABASE_URL": url}) == 1
        assert capsys.readouterr().out == (
            "unhealthy: the database has no clipbot tables: clipbot run has never started there\n"
        )
        assert _tables(url) == []

    def test_an_older_schema_is_read_not_upgraded(
        self, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A database an older release set up: exit 1 naming its schema version, left as is."""
        path = tmp_path / "clipbot.db"
        with sqlite3.connect(path) as db:
            db.executescript(schema.MIGRATIONS[0])
            db.execute("PRAGMA user_version = 1")
        assert main(["healthcheck"], env) == 1
        assert capsys.readouterr().out == (
            f"unhealthy: the database's schema is at version 1 of {len(schema.MIGRATIONS)}:"
            " this release's clipbot run has not started there yet\n"
        )
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (1,)

    def test_bad_configuration(
        self, env: dict[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A bad setting: exit 2 naming it."""
        assert main(["healthcheck"], {**env, "CLIPBOT_POLL_SECONDS": "often"}) == 2
        assert "CLIPBOT_POLL_SECONDS: 'often' is not a whole number" in capsys.readouterr().err


class TestReadiness:
    def test_store_that_does_not_answer(self) -> None:
        """Ready needs Slack connected and a store read that answers; each fault is named."""

        def down() -> None:
            raise StoreUnavailable("PostgreSQL at db:5432: connection refused")

        assert readiness(lambda: True, lambda: 1)() is None
        assert readiness(lambda: False, lambda: 1)() == "Slack is not connected"
        assert readiness(lambda: True, down)() == "the store does not answer (StoreUnavailable)"


def _tables(url: str) -> list[str]:
    """The tables in the database at `url`, read without clipbot."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    with psycopg.connect(url) as db:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        return [r[0] for r in db.execute(query)]


def test_healthcheck_writes_not_a_byte(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`clipbot healthcheck` only reads: an empty SQLite file stays empty, and an older
    release's file keeps its journal mode (it was switched to WAL, a change to the file)."""
    path = tmp_path / "clipbot.db"
    path.touch()
    assert main(["healthcheck"], env) == 1
    assert path.stat().st_size == 0
    path.unlink()
    with sqlite3.connect(path) as db:
        db.executescript(schema.MIGRATIONS[0])
        db.execute("PRAGMA user_version = 1")
    assert main(["healthcheck"], env) == 1
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    capsys.readouterr()
