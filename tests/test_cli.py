"""The command line: check, clips, and refusing bad configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clipbot.cli import main
from clipbot.state import Subscription
from clipbot.store import SqliteStore, open_store
from clipbot.store.postgres import PostgresStore
from tests.fakes.rhombus import API_KEY, FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import BOT_TOKEN, FakeSlack

T0 = 1_764_000_000_000


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


class TestCheck:
    def test_all_good(self, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
        """Both credentials checked for real; exit 0 with an all-ok report."""
        assert main(["check"], env) == 0
        assert (
            capsys.readouterr().out
            == "configuration  ok\ndatabase       ok\nSlack          ok\nRhombus        ok\n"
        )

    def test_calls_made(self, env: dict[str, str], slack: FakeSlack, rhombus: FakeRhombus) -> None:
        """check calls auth.test, apps.connections.open and getSavedClipsV2 with maxPageSize 1."""
        main(["check"], env)
        assert [c.method for c in slack.calls] == ["auth.test", "apps.connections.open"]
        assert [r.body for r in rhombus.calls("getSavedClipsV2")] == [{"maxPageSize": 1}]

    def test_bad_slack_token(self, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
        """A refused bot token is named, and exit is 1."""
        env["SLACK_BOT_TOKEN"] = "xoxb-revoked"
        assert main(["check"], env) == 1
        assert capsys.readouterr().out == (
            "configuration  ok\n"
            "database       ok\n"
            "Slack          FAILED: Slack rejected SLACK_BOT_TOKEN (invalid_auth)\n"
            "Rhombus        ok\n"
        )

    def test_bad_rhombus_key(self, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
        """A refused Rhombus key is named, and exit is 1."""
        env["RHOMBUS_API_KEY"] = "wrong"
        assert main(["check"], env) == 1
        assert capsys.readouterr().out.splitlines()[-1] == (
            "Rhombus        FAILED: Rhombus rejected the API key (HTTP 401): "
            "check RHOMBUS_API_KEY and RHOMBUS_AUTH_SCHEME"
        )

    def test_database_that_cannot_be_opened(
        self, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A database that cannot be opened is bad configuration: exit 2 naming the setting,
        before any credential is tried; an existing one is opened for real."""
        env["CLIPBOT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'nowhere' / 'clipbot.db'}"
        assert main(["check"], env) == 2
        assert capsys.readouterr().err == (
            "clipbot: invalid configuration:\n"
            f"  - CLIPBOT_DATABASE_URL: the folder {tmp_path / 'nowhere'} does not exist\n"
        )
        (tmp_path / "garbage.db").write_bytes(b"not a database at all" * 100)
        env["CLIPBOT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'garbage.db'}"
        assert main(["check"], env) == 2
        assert "CLIPBOT_DATABASE_URL" in capsys.readouterr().err

    def test_bad_configuration(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Missing settings: exit 2 with one message naming each."""
        assert main(["check"], {"SLACK_BOT_TOKEN": "xapp-1"}) == 2
        assert capsys.readouterr().err == (
            "clipbot: invalid configuration:\n"
            "  - SLACK_BOT_TOKEN: must start with 'xoxb-' (this one is an app-level token)\n"
            "  - SLACK_APP_TOKEN: missing (required)\n"
            "  - RHOMBUS_API_KEY: missing (required)\n"
        )

    def test_run_refuses_bad_configuration(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`clipbot run` with nothing configured exits 2 before starting anything."""
        assert main(["run"], {"CLIPBOT_POLL_SECONDS": "x"}) == 2
        assert "CLIPBOT_POLL_SECONDS: 'x' is not a whole number" in capsys.readouterr().err

    def test_dotenv_is_read(
        self, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Settings missing from the environment come from `.env` in the working directory."""
        (tmp_path / ".env").write_text(f"SLACK_BOT_TOKEN={BOT_TOKEN}\n")
        del env["SLACK_BOT_TOKEN"]
        assert main(["check"], env) == 0


class TestClips:
    def test_table(
        self, env: dict[str, str], rhombus: FakeRhombus, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Recent clips, newest first, one line each with camera names."""
        rhombus.add(clip("A", T0, title="Back door"), clip("B", T0 + 60_000, title="Dock"))
        env = {"RHOMBUS_API_KEY": API_KEY, "RHOMBUS_API_URL": env["RHOMBUS_API_URL"], "TZ": "UTC"}
        assert main(["clips", "--limit", "5"], env) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line.split("—")[-1].strip() for line in lines] == ["Dock", "Back door"]
        assert all("Front Door" in line and "COMPLETE" in line for line in lines)

    def test_json_and_limit(
        self, env: dict[str, str], rhombus: FakeRhombus, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--json prints one object per line; --limit caps the count."""
        rhombus.add(*(clip(f"C{i}", T0 + i) for i in range(5)))
        assert main(["clips", "--limit", "2", "--json"], env) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [(r["uuid"], r["camera_names"]) for r in rows] == [
            ("C4", ["Front Door"]),
            ("C3", ["Front Door"]),
        ]

    def test_rhombus_failure_exits_1(
        self, env: dict[str, str], rhombus: FakeRhombus, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A Rhombus error is one line on stderr and exit 1."""
        rhombus.fail("getSavedClipsV2", Reply.json({"error": True, "errorMsg": "Org suspended"}))
        assert main(["clips"], env) == 1
        assert capsys.readouterr().err == (
            "clipbot: Rhombus event/getSavedClipsV2 failed: Org suspended\n"
        )

    def test_bad_limit(self, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
        """An out-of-range --limit is a usage error."""
        with pytest.raises(SystemExit) as exited:
            main(["clips", "--limit", "0"], env)
        assert exited.value.code == 2
        assert "0 is out of range (1 to 500)" in capsys.readouterr().err


class TestPoll:
    def test_dry_run_then_real(
        self,
        env: dict[str, str],
        rhombus: FakeRhombus,
        slack: FakeSlack,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """poll --once --dry-run prints what would go out; poll --once posts it."""
        store = SqliteStore(env["CLIPBOT_DATABASE_URL"].removeprefix("sqlite:///"))
        store.subscribe(Subscription("C1", "T0001", "U1", 0, start_ms=T0 - 1))
        store.close()
        rhombus.add(clip("A", T0, title="Back door"))
        assert main(["poll", "--once", "--dry-run"], env) == 0
        assert capsys.readouterr().out == "C1: Back door (A)\n"
        assert slack.posts() == []
        assert main(["poll", "--once"], env) == 0
        assert capsys.readouterr().out == "posted 1 clip(s) (0 digest(s)), updated 0 card(s)\n"
        assert [m.text for m in slack.posts("C1")] == ["New clip: Back door"]

    def test_poll_rhombus_failure(
        self, env: dict[str, str], rhombus: FakeRhombus, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A failing feed makes poll --once exit 1 with the reason."""
        store = SqliteStore(env["CLIPBOT_DATABASE_URL"].removeprefix("sqlite:///"))
        store.subscribe(Subscription("C1", "T0001", "U1", 0, start_ms=T0 - 1))
        store.close()
        rhombus.fail("getSavedClipsV2", Reply(503), Reply(503), Reply(503), Reply(503))
        assert main(["poll", "--once"], env) == 1
        assert capsys.readouterr().err.endswith(
            "clipbot: Rhombus event/getSavedClipsV2 failed after 4 attempts: HTTP 503\n"
        )

    def test_poll_needs_only_bot_token(self, env: dict[str, str]) -> None:
        """poll --once works without the app token (it does not connect Socket Mode)."""
        del env["SLACK_APP_TOKEN"]
        assert main(["poll", "--once"], env) == 0

    def test_unopenable_database_refused_clearly(
        self, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A database that cannot be opened is bad configuration: exit 2 naming the setting."""
        env["CLIPBOT_DATABASE_URL"] = f"sqlite:///{tmp_path}/missing/clipbot.db"
        assert main(["poll", "--once"], env) == 2
        assert capsys.readouterr().err == (
            "clipbot: invalid configuration:\n"
            f"  - CLIPBOT_DATABASE_URL: cannot open the SQLite database {tmp_path}/missing/clipbot.db: its folder does not exist\n"
        )

    def test_postgres_poll_once(
        self, env: dict[str, str], postgres_url: str, rhombus: FakeRhombus, slack: FakeSlack
    ) -> None:
        """poll --once on a PostgreSQL database posts a new clip, once, and keeps the position."""
        env["CLIPBOT_DATABASE_URL"] = postgres_url
        store = PostgresStore(postgres_url)
        store.subscribe(Subscription("C1", "T0001", "U1", 0, start_ms=T0 - 1))
        rhombus.add(clip("A", T0, title="Back door"))
        assert main(["poll", "--once"], env) == 0
        assert main(["poll", "--once"], env) == 0
        assert [m.text for m in slack.posts("C1")] == ["New clip: Back door"]
        assert store.position() == T0
        store.close()

    def test_postgres_poll_once_leaves_a_running_leader_alone(
        self, env: dict[str, str], postgres_url: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """poll --once while a replica holds the lease does nothing and says why."""
        env["CLIPBOT_DATABASE_URL"] = postgres_url
        store = PostgresStore(postgres_url)
        store.claim_lease("running-replica", 60_000)
        assert main(["poll", "--once"], env) == 1
        assert capsys.readouterr().err.endswith(
            "clipbot: another clipbot replica holds the lease and polls\n"
        )
        assert store.lease_holder() == "running-replica"
        store.close()

    @pytest.mark.parametrize("command", [["poll", "--once"], ["run"]])
    def test_second_process_on_one_database(
        self,
        env: dict[str, str],
        slack: FakeSlack,
        capsys: pytest.CaptureFixture[str],
        command: list[str],
    ) -> None:
        """While another clipbot owns the SQLite file, run and poll --once exit 2 at once,
        touching neither Slack nor the database."""
        path = env["CLIPBOT_DATABASE_URL"].removeprefix("sqlite:///")
        first = open_store(env["CLIPBOT_DATABASE_URL"], owner=True)
        first.subscribe(Subscription("C1", "T0001", "U1", 0, start_ms=T0 - 1))
        assert main(command, env) == 2
        assert capsys.readouterr().err == (
            "clipbot: invalid configuration:\n"
            f"  - CLIPBOT_DATABASE_URL: another clipbot is using {path}; stop it first"
            " (several replicas need PostgreSQL)\n"
        )
        assert slack.calls == []
        assert [s.channel_id for s in first.subscriptions()] == ["C1"]
        first.close()
