"""Operating the real `clipbot run` process: stopping on time, health, metrics and its logs."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from clipbot.state import Subscription
from clipbot.store import SqliteStore
from tests.bolt import eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.test_run import SECRETS, Process, free_port
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


class TestStart:
    def test_a_file_that_is_not_a_database(self, run_env: dict[str, str], tmp_path: Path) -> None:
        """A database that cannot be opened is bad configuration: exit 2 naming the setting, and
        no traceback."""
        (tmp_path / "clipbot.db").write_text("not a database " * 200)
        bot = Process(["run"], run_env, tmp_path)
        assert bot.wait(timeout=30) == 2
        assert bot.stderr == (
            "clipbot: invalid configuration:\n"
            f"  - CLIPBOT_DATABASE_URL: cannot open the SQLite database {tmp_path}/clipbot.db:"
            " not a SQLite database\n"
        )


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
        assert "level=INFO logger=clipbot.runner stopped" in bot.stderr, bot.stderr

    def test_sigterm_during_a_slack_stall(
        self, run_env: dict[str, str], rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path
    ) -> None:
        """Slack never answers the card's chat.postMessage; SIGTERM still ends the process
        cleanly (exit 0) within 10 s, and the card is left in doubt for the next start."""
        subscribe(tmp_path)
        slack.fail("chat.postMessage", *[Reply(delay=3600)] * 5)
        bot = Process(["run"], run_env, tmp_path)
        try:
            assert eventually(lambda: "clipbot is running" in bot.stderr, timeout=30), bot.stderr
            rhombus.add(clip("NEW", int(time.time() * 1000), title="Back gate"))
            assert eventually(lambda: slack.called("chat.postMessage"), timeout=30), bot.stderr
        finally:
            bot.proc.terminate()
        assert bot.wait(timeout=STOP_LIMIT_S) == 0, bot.stderr
        assert "level=INFO logger=clipbot.runner stopped" in bot.stderr
        store = SqliteStore(str(tmp_path / "clipbot.db"))
        assert [c.clip.uuid for c in store.in_doubt()] == ["NEW"]
        store.close()

    def test_a_listener_at_work_finishes_before_the_stop(
        self,
        run_env: dict[str, str],
        rhombus: FakeRhombus,
        slack: FakeSlack,
        socket_mode: FakeSocketMode,
        tmp_path: Path,
    ) -> None:
        """SIGTERM while `/clips subscribe` waits 4 s for Rhombus: the listener still finishes
        (the subscription is stored, the answer sent), and only then is the store closed."""
        bot = Process(["run"], run_env, tmp_path)
        try:
            assert eventually(lambda: "clipbot is running" in bot.stderr, timeout=30), bot.stderr
            slow = Reply.json({"savedClips": [clip("A", T0, title="Dock door")]})
            slow.delay = 4.0
            rhombus.fail("getSavedClipsV2", slow)
            asked = len(rhombus.calls("getSavedClipsV2"))
            envelope = socket_mode.send(
                "slash_commands",
                {
                    "team_id": "T0001",
                    "channel_id": "C1",
                    "user_id": "U1",
                    "command": "/clips",
                    "text": "subscribe",
                    "response_url": slack.response_url(),
                    "trigger_id": "t9",
                },
            )
            assert eventually(lambda: socket_mode.ack_for(envelope), timeout=10)
            assert eventually(lambda: len(rhombus.calls("getSavedClipsV2")) > asked, timeout=10)
        finally:
            bot.proc.terminate()
        assert bot.wait(timeout=STOP_LIMIT_S) == 0, bot.stderr
        assert slack.responses[-1]["text"].startswith("Subscribed <#C1> to new clips"), bot.stderr
        assert "level=ERROR" not in bot.stderr
        store = SqliteStore(str(tmp_path / "clipbot.db"))
        assert [s.channel_id for s in store.subscriptions()] == ["C1"]
        store.close()

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


CONTRACT_METRICS = {
    "clipbot_polls": "counter",
    "clipbot_poll_duration_seconds": "histogram",
    "clipbot_clips_posted": "counter",
    "clipbot_slack_errors": "counter",
    "clipbot_rhombus_errors": "counter",
    "clipbot_feed_lag_seconds": "gauge",
    "clipbot_leader": "gauge",
}


class Endpoints:
    """GETs against a running bot's CLIPBOT_METRICS_PORT."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> httpx.Response | None:
        try:
            return httpx.get(self.base + path, timeout=5)
        except httpx.TransportError:
            return None

    def status(self, path: str) -> int | None:
        response = self.get(path)
        return response.status_code if response else None

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of /metrics by (name, sorted labels)."""
        response = self.get("/metrics")
        assert response is not None and response.status_code == 200
        self.families = {f.name: f for f in text_string_to_metric_families(response.text)}
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in self.families.values()
            for s in family.samples
        }

    def value(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, tuple(sorted(labels.items()))), math.nan)


class TestHealthAndMetrics:
    def test_endpoints_follow_a_running_bot(
        self,
        run_env: dict[str, str],
        rhombus: FakeRhombus,
        slack: FakeSlack,
        socket_mode: FakeSocketMode,
        tmp_path: Path,
    ) -> None:
        """/healthz, /readyz and /metrics on a real `clipbot run`: the figures move as a clip is
        posted, Rhombus fails a cycle and Slack refuses a post; readiness follows Slack."""
        subscribe(tmp_path)
        port = free_port()
        env = {
            **run_env,
            "CLIPBOT_METRICS_PORT": str(port),
            "CLIPBOT_LOG_FORMAT": "json",
            "CLIPBOT_POLL_SECONDS": "2",
        }
        bot = Process(["run"], env, tmp_path)
        site = Endpoints(port)
        try:
            assert eventually(lambda: site.status("/readyz") == 200, timeout=30), bot.stderr
            assert site.status("/healthz") == 200
            assert eventually(lambda: site.value("clipbot_polls_total", outcome="ok") >= 1)
            site.metrics()
            kinds = {name: site.families[name].type for name in CONTRACT_METRICS}
            assert kinds == CONTRACT_METRICS
            assert [n for n in CONTRACT_METRICS if not site.families[n].documentation] == []
            assert site.value("clipbot_leader") == 1
            check = subprocess.run(
                [sys.executable, "-m", "clipbot", "healthcheck"],
                env={"PATH": os.environ.get("PATH", ""), **env},
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert (check.returncode, check.stdout) == (0, "healthy\n")
            assert site.value("clipbot_clips_posted_total") == 0
            assert math.isnan(site.value("clipbot_feed_lag_seconds"))

            created = int(time.time() * 1000) - 30_000
            rhombus.add(clip("NEW", created, title="Back gate"))
            assert eventually(lambda: slack.posts("C1"), timeout=30), bot.stderr
            assert eventually(lambda: site.value("clipbot_clips_posted_total") == 1)
            assert 30 <= site.value("clipbot_feed_lag_seconds") < 120

            rhombus.fail("getSavedClipsV2", *[Reply.json({}, 503)] * 4)
            assert eventually(
                lambda: site.value("clipbot_polls_total", outcome="failed") == 1, timeout=40
            ), bot.stderr
            assert site.value("clipbot_rhombus_errors_total", kind="server") == 4
            assert site.value("clipbot_rhombus_errors_total", kind="timeout") == 0

            slack.fail("chat.postMessage", Reply.json({"ok": False, "error": "brand_new_code"}))
            rhombus.add(clip("NEXT", created + 1000, title="Side door"))
            assert eventually(
                lambda: site.value("clipbot_slack_errors_total", error="other") == 1, timeout=30
            ), bot.stderr
            assert eventually(lambda: site.value("clipbot_clips_posted_total") == 2, timeout=30)
            assert site.value("clipbot_polls_total", outcome="failed") == 2
            samples = site.metrics()
            cycles = sum(v for (n, _), v in samples.items() if n == "clipbot_polls_total")
            assert samples[("clipbot_poll_duration_seconds_count", ())] == cycles

            envelope = socket_mode.send(
                "slash_commands",
                {
                    "team_id": "T0001",
                    "channel_id": "C1",
                    "user_id": "U1",
                    "command": "/clips",
                    "text": "status",
                    "response_url": slack.response_url(),
                    "trigger_id": "t1",
                },
            )
            assert eventually(lambda: socket_mode.ack_for(envelope), timeout=10)
            assert eventually(lambda: slack.responses, timeout=10)
            status = json.dumps(slack.responses[-1], ensure_ascii=False)
            lag = site.value("clipbot_feed_lag_seconds")
            for fact in (
                "This replica: leader",
                "Slack errors since start: other ×1",
                "Rhombus errors since start: server ×4",
                f"Feed lag: {int(lag // 60)}m since the newest clip read",
            ):
                assert fact in status, (fact, status)

            slack.socket_url = "ws://127.0.0.1:9/nowhere"
            for connection in socket_mode.connections:
                connection.close()
            assert eventually(lambda: site.status("/readyz") == 503, timeout=30)
            answer = site.get("/readyz")
            assert answer is not None and answer.text == "not ready: Slack is not connected\n"
            assert site.status("/healthz") == 200
            assert site.status("/nothing") == 404
            exposition = site.get("/metrics")
            assert exposition is not None
            assert [s for s in SECRETS if s in exposition.text] == []
        finally:
            code = bot.stop()
        assert code == 0, bot.stderr
        lines = [json.loads(line) for line in bot.stderr.splitlines()]
        assert {"time", "level", "logger", "message"} <= set(lines[0])
        assert [
            line for line in lines if line["level"] not in ("DEBUG", "INFO", "WARNING", "ERROR")
        ] == []
        assert [s for s in SECRETS if s in bot.stderr] == []
        posted = [line for line in lines if line["message"].startswith("poll posted=1 ")]
        assert [line["cycle"].startswith("poll-") for line in posted] == [True, True]
        budget = [line for line in lines if line["message"].startswith("CLIPBOT_POLL_SECONDS=2:")]
        assert [line["level"] for line in budget] == ["WARNING"]

    def test_metrics_port_in_use(self, run_env: dict[str, str], tmp_path: Path) -> None:
        """A metrics port that cannot be served is bad configuration: exit 2, naming it."""
        with socket.socket() as taken:
            taken.bind(("0.0.0.0", 0))
            taken.listen()
            port = taken.getsockname()[1]
            bot = Process(["run"], {**run_env, "CLIPBOT_METRICS_PORT": str(port)}, tmp_path)
            assert bot.wait() == 2
        assert (
            f"clipbot: CLIPBOT_METRICS_PORT: port {port} cannot be served (Address already in use)"
            in bot.stderr.splitlines()
        )
