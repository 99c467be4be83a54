"""Operating the real `clipbot run` process: stopping on time, health, metrics and its logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot.state import Subscription
from clipbot.store import SqliteStore
from tests.bolt import eventually
from tests.fakes.rhombus import FakeRhombus
from tests.fakes.slack import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.test_run import Process
from tests.world import T0

STOP_LIMIT_S = 10  # the contract: SIGTERM/SIGINT end the process within 10 s


@pytest.fixture
def socket_mode(slack: FakeSlack) -> Iterator[FakeSocketMode]:
    server = FakeSocketMode().start()
    slack.socket_url = server.url
    yield server
    server.stop()


@pytest.fixture
def run_env(env: dict[str, str], socket_mode: FakeSocketMode) -> dict[str, str]:
    return {**env, "CLIPBOT_POLL_SECONDS": "5", "CLIPBOT_REMIND_MINUTES": "0"}


def subscribe(tmp_path: Path, channel: str = "C1") -> None:
    store = SqliteStore(str(tmp_path / "clipbot.db"))
    store.subscribe(
        Subscription(
            channel_id=channel,
            team_id="T0001",
            created_by="U1",
            created_at_ms=T0,
            start_ms=T0,
        )
    )
    store.close()


class TestStopOnTime:
    def test_sigterm_during_a_rhombus_stall_in_a_cycle(
        self, run_env: dict[str, str], rhombus: FakeRhombus, tmp_path: Path
    ) -> None:
        """A poll cycle hangs on a Rhombus that never answers; SIGTERM still ends the process
        cleanly (exit 0) within 10 s."""
        subscribe(tmp_path)
        bot = Process(["run"], run_env, tmp_path)
        try:
            assert eventually(lambda: "clipbot is running" in bot.stderr, timeout=30), bot.stderr
            rhombus.silent = True
            asked = len(rhombus.requests)
            assert eventually(lambda: len(rhombus.requests) > asked, timeout=30), bot.stderr
        finally:
            bot.proc.terminate()
        assert bot.wait(timeout=STOP_LIMIT_S) == 0, bot.stderr
        assert "poll: stopped before it finished" in bot.stderr
        assert bot.stderr.rstrip().endswith("stopped"), bot.stderr

    def test_sigint_during_the_start_up_check(
        self, run_env: dict[str, str], rhombus: FakeRhombus, tmp_path: Path
    ) -> None:
        """Rhombus never answers the start-up check; SIGINT ends the process within 10 s."""
        rhombus.silent = True
        bot = Process(["run"], run_env, tmp_path)
        try:
            assert eventually(lambda: rhombus.requests, timeout=30), bot.stderr
        finally:
            bot.proc.send_signal(2)
        assert bot.wait(timeout=STOP_LIMIT_S) == 0, bot.stderr
        assert "stopped while starting" in bot.stderr
