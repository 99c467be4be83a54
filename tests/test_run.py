"""`clipbot run` as a real process: Socket Mode and HTTP mode, credentials, SIGTERM, no secrets."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from clipbot.state import Subscription
from clipbot.store import SqliteStore
from tests.bolt import eventually
from tests.fakes.rhombus import API_KEY, FakeRhombus, Video, clip
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.test_commands import sign

TRIGGERS = itertools.count(1)
SECRETS = (BOT_TOKEN, APP_TOKEN, API_KEY, SIGNING_SECRET)


@pytest.fixture
def socket_mode(slack: FakeSlack) -> Iterator[FakeSocketMode]:
    server = FakeSocketMode().start()
    slack.socket_url = server.url
    yield server
    server.stop()


class Process:
    """A running `python -m clipbot` with its output collected in files."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.out, self.err = cwd / "stdout.txt", cwd / "stderr.txt"
        full_env = {"PATH": os.environ.get("PATH", ""), "CLIPBOT_LOG_LEVEL": "DEBUG", **env}
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "clipbot", *args],
                env=full_env,
                cwd=cwd,
                stdout=out,
                stderr=err,
            )

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    @property
    def stderr(self) -> str:
        return self.err.read_text()


@pytest.fixture
def run_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "CLIPBOT_POLL_SECONDS": "5", "CLIPBOT_REMIND_MINUTES": "0"}


class TestSocketMode:
    def test_subscribe_post_and_stop(
        self,
        run_env: dict[str, str],
        rhombus: FakeRhombus,
        slack: FakeSlack,
        socket_mode: FakeSocketMode,
        tmp_path: Path,
    ) -> None:
        """The real process takes /clips over Socket Mode, posts a new clip (mentioning the group
        the subscription notifies), groups the next one from its camera into the card's thread,
        and stops on SIGTERM."""
        rhombus.add(clip("OLD", 1_764_000_000_000))
        bot = Process(["run"], run_env, tmp_path)
        try:
            assert eventually(lambda: socket_mode.connections, timeout=30), bot.stderr
            envelope = socket_mode.send(
                "slash_commands",
                {
                    "team_id": "T0001",
                    "channel_id": "C1",
                    "user_id": "U1",
                    "command": "/clips",
                    "text": "subscribe notify:<!subteam^S0SEC|@security> group:2m",
                    "response_url": slack.response_url(),
                    "trigger_id": "t1",
                },
            )
            assert eventually(lambda: socket_mode.ack_for(envelope), timeout=10)
            assert eventually(lambda: slack.responses, timeout=20)
            assert slack.responses[0]["text"].startswith("Subscribed <#C1> to new clips")
            rhombus.add(clip("NEW", 1_764_000_060_000, title="Back gate"))
            assert eventually(lambda: len(slack.posts("C1")) == 2, timeout=30), bot.stderr
            card = slack.posts("C1")[1]
            assert card.text == "<!subteam^S0SEC> New clip: Back gate"
            press = socket_mode.send(
                "interactive",
                {
                    "type": "block_actions",
                    "team": {"id": "T0001"},
                    "user": {"id": "U2"},
                    "channel": {"id": "C1"},
                    "container": {"type": "message", "channel_id": "C1", "message_ts": card.ts},
                    "message": {"ts": card.ts},
                    "trigger_id": "t2",
                    "response_url": slack.response_url(),
                    "actions": [
                        {
                            "type": "button",
                            "action_id": "clip_claim",
                            "block_id": "triage:0",
                            "value": "NEW",
                        }
                    ],
                },
            )
            assert eventually(lambda: socket_mode.ack_for(press), timeout=10)
            assert eventually(lambda: slack.replies("C1", card.ts), timeout=10)
            assert slack.replies("C1", card.ts)[0].text.startswith("<@U2> claimed this clip")
            assert card.edits == 1
            # Burst grouping: the same camera a minute later goes into the card's thread.
            rhombus.add(clip("NEXT", 1_764_000_120_000, title="Back gate again"))
            assert eventually(lambda: card.edits == 2, timeout=30), bot.stderr
            lines = [m.text for m in slack.replies("C1", card.ts)]
            assert lines[1:] == ["Also from Front Door: Back gate again"]
            assert len(slack.posts("C1")) == 2
        finally:
            code = bot.stop()
        assert code == 0
        log = bot.stderr
        assert "clipbot is running (socket mode)" in log and "stopped" in log
        assert [s for s in SECRETS if s in log] == []

    def test_video_button_puts_the_mp4_in_the_thread(
        self,
        run_env: dict[str, str],
        rhombus: FakeRhombus,
        slack: FakeSlack,
        socket_mode: FakeSocketMode,
        tmp_path: Path,
    ) -> None:
        """Video pressed over Socket Mode: the real process uploads the clip's MP4 into the thread."""
        rhombus.add(clip("OLD", 1_764_000_000_000))
        bot = Process(["run"], {**run_env, "CLIPBOT_VIDEO_MAX_MB": "2"}, tmp_path)
        try:
            assert eventually(lambda: socket_mode.connections, timeout=30), bot.stderr
            slash(socket_mode, slack, "subscribe")
            assert eventually(lambda: slack.responses, timeout=20)
            rhombus.add(clip("NEW", 1_764_000_060_000, title="Back gate", byteCount=1_000_000))
            rhombus.videos["NEW"] = Video(1_000_000)
            assert eventually(lambda: len(slack.posts("C1")) == 2, timeout=30), bot.stderr
            card = slack.posts("C1")[1]
            press = socket_mode.send(
                "interactive", press_payload(slack, card.ts, "clip_video", "NEW")
            )
            assert eventually(lambda: socket_mode.ack_for(press), timeout=10)
            assert eventually(lambda: slack.replies("C1", card.ts), timeout=20), bot.stderr
            (file,) = slack.files.values()
            assert (file.title, file.channel, file.thread_ts, file.received) == (
                "Back gate",
                "C1",
                card.ts,
                1_000_000,
            )
        finally:
            code = bot.stop()
        assert code == 0
        assert [s for s in SECRETS if s in bot.stderr] == []

    def test_quiet_hours_and_mute(
        self,
        run_env: dict[str, str],
        rhombus: FakeRhombus,
        slack: FakeSlack,
        socket_mode: FakeSocketMode,
        tmp_path: Path,
    ) -> None:
        """The real process posts to C1 only clips saved in its hours (in CLIPBOT_TIMEZONE), and
        holds back C2's muted camera, counting it on unmute."""
        rhombus.add(clip("OLD", 1_764_000_000_000))  # Monday 2025-11-24 16:00 UTC
        env = {**run_env, "CLIPBOT_TIMEZONE": "Europe/Berlin"}
        bot = Process(["run"], env, tmp_path)
        try:
            assert eventually(lambda: socket_mode.connections, timeout=30), bot.stderr
            commands = [
                ("subscribe hours:17:00-18:00 days:mon", "C1"),  # Berlin time
                ("subscribe", "C2"),
                ("mute camera:dock for:2h", "C2"),
            ]
            for number, (text, channel) in enumerate(commands, start=1):
                slash(socket_mode, slack, text, channel=channel)
                assert eventually(lambda n=number: len(slack.responses) == n, timeout=20)
            assert "between 17:00 and 18:00, Monday" in slack.responses[0]["text"]
            assert slack.responses[2]["text"].startswith("Muted cameras matching “dock” in <#C2>")
            now = int(time.time() * 1000)  # the mute runs from the bot's clock
            rhombus.add(
                clip("IN", 1_764_000_060_000, title="Inside the hours"),  # 17:01 Berlin
                clip("OUT", 1_764_003_660_000, title="After the hours"),  # 18:01 Berlin
                clip("MUTED", now + 1_000, cameras=("CAM0000000000000000002",)),
                clip("LOUD", now + 2_000, title="Front door, just now"),
            )
            assert eventually(lambda: len(slack.posts("C2")) == 5, timeout=30), bot.stderr
            assert [m.text for m in slack.posts("C1")[1:]] == ["New clip: Inside the hours"]
            assert [m.text for m in slack.posts("C2")[2:]] == [
                "New clip: Inside the hours",
                "New clip: After the hours",
                "New clip: Front door, just now",
            ]
            slash(socket_mode, slack, "unmute", channel="C2")
            assert eventually(lambda: len(slack.responses) == 4, timeout=20)
            assert "“dock”: 1 clip held back" in slack.responses[3]["text"]
        finally:
            code = bot.stop()
        assert code == 0

    def test_bad_app_token(self, run_env: dict[str, str], tmp_path: Path) -> None:
        """An app token Slack refuses stops the start with exit 1, naming it."""
        bot = Process(["run"], {**run_env, "SLACK_APP_TOKEN": "xapp-revoked"}, tmp_path)
        assert bot.wait() == 1
        assert "clipbot: Slack rejected SLACK_APP_TOKEN (invalid_auth)" in bot.stderr


def slash(socket_mode: FakeSocketMode, slack: FakeSlack, text: str, channel: str = "C1") -> str:
    """Sends U1's `/clips text` in `channel` over Socket Mode (a new trigger_id each, as Slack
    gives: a repeated one is a redelivery); its envelope id."""
    return socket_mode.send(
        "slash_commands",
        {
            "team_id": "T0001",
            "channel_id": channel,
            "user_id": "U1",
            "command": "/clips",
            "text": text,
            "response_url": slack.response_url(),
            "trigger_id": f"t-{next(TRIGGERS)}",
        },
    )


def press_payload(slack: FakeSlack, ts: str, action_id: str, value: str) -> dict[str, object]:
    """A block_actions payload: U2 pressing `action_id` on the card at `ts` in C1."""
    return {
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": "U2"},
        "channel": {"id": "C1"},
        "container": {"type": "message", "channel_id": "C1", "message_ts": ts},
        "message": {"ts": ts},
        "trigger_id": "t2",
        "response_url": slack.response_url(),
        "actions": [
            {"type": "button", "action_id": action_id, "block_id": "triage:0", "value": value}
        ],
    }


class TestCredentials:
    def test_bad_bot_token(self, run_env: dict[str, str], tmp_path: Path) -> None:
        """A refused bot token: exit 1, naming it."""
        bot = Process(["run"], {**run_env, "SLACK_BOT_TOKEN": "xoxb-revoked"}, tmp_path)
        assert bot.wait() == 1
        assert "clipbot: Slack rejected SLACK_BOT_TOKEN (invalid_auth)" in bot.stderr.splitlines()

    def test_bad_rhombus_key(self, run_env: dict[str, str], tmp_path: Path) -> None:
        """A refused Rhombus key: exit 1, naming it, without echoing it."""
        bot = Process(["run"], {**run_env, "RHOMBUS_API_KEY": "wrong-key-123456"}, tmp_path)
        assert bot.wait() == 1
        assert (
            "clipbot: Rhombus rejected the API key (HTTP 401): check RHOMBUS_API_KEY and RHOMBUS_AUTH_SCHEME"
            in bot.stderr.splitlines()
        )
        assert "wrong-key-123456" not in bot.stderr

    def test_bad_configuration(self, tmp_path: Path) -> None:
        """Nothing configured: exit 2 with every missing setting named."""
        bot = Process(["run"], {}, tmp_path)
        assert bot.wait() == 2
        assert bot.stderr == (
            "clipbot: invalid configuration:\n"
            "  - SLACK_BOT_TOKEN: missing (required)\n"
            "  - SLACK_APP_TOKEN: missing (required)\n"
            "  - RHOMBUS_API_KEY: missing (required)\n"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestHttpMode:
    def test_signed_command_over_http(
        self, run_env: dict[str, str], slack: FakeSlack, tmp_path: Path
    ) -> None:
        """With CLIPBOT_HTTP_PORT the app acknowledges signed requests at once (200, empty),
        answers them through their response_url, and refuses unsigned ones."""
        port = free_port()
        bot = Process(["run"], {**run_env, "CLIPBOT_HTTP_PORT": str(port)}, tmp_path)
        try:
            url = f"http://127.0.0.1:{port}/slack/events"
            answer = quote(slack.response_url(), safe="")
            body = f"team_id=T0001&channel_id=C1&user_id=U1&command=%2Fclips&text=help&response_url={answer}"

            def post(headers: dict[str, str]) -> httpx.Response | None:
                try:
                    return httpx.post(url, content=body, headers=headers, timeout=5)
                except httpx.TransportError:
                    return None

            good = eventually(lambda: post(sign(body, int(time.time()))), timeout=30)
            assert good is not None and (good.status_code, good.text) == (200, ""), bot.stderr
            assert eventually(lambda: slack.responses, timeout=10), bot.stderr
            assert slack.responses[0]["text"].startswith("*Usage:* `/clips [what]`")
            bad = post(sign(body, int(time.time()), "not-the-secret"))
            assert bad is not None and bad.status_code == 401
        finally:
            assert bot.stop() == 0
        assert [s for s in SECRETS if s in bot.stderr] == []


class TestDailySummary:
    def test_posted_at_start_once_across_a_restart(
        self, run_env: dict[str, str], slack: FakeSlack, tmp_path: Path
    ) -> None:
        """A bot started minutes after CLIPBOT_SUMMARY_AT posts the day's summary; started again,
        it does not post it twice."""
        now = datetime.now(UTC)
        store = SqliteStore(str(tmp_path / "clipbot.db"))
        day_ago = int(now.timestamp() * 1000) - 86_400_000
        store.subscribe(Subscription("C1", "T0001", "U1", day_ago, day_ago))
        store.close()
        at = (now - timedelta(minutes=2)).strftime("%H:%M")
        env = {
            **run_env,
            "CLIPBOT_HTTP_PORT": str(free_port()),
            "CLIPBOT_TIMEZONE": "UTC",
            "CLIPBOT_SUMMARY_AT": at,
        }

        def summaries() -> list[str]:
            return [
                m.ts
                for m in slack.posts("C1")
                if (m.metadata or {}).get("event_type") == "clipbot_summary"
            ]

        for run in range(2):
            bot = Process(["run"], env, tmp_path)
            try:
                assert eventually(lambda b=bot: "summary ran" in b.stderr, timeout=30), bot.stderr
            finally:
                assert bot.stop() == 0
            assert len(summaries()) == 1, (run, bot.stderr)
        assert slack.posts("C1")[0].text.startswith("Daily summary — ")
