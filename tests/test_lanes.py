"""Listeners' work in lanes (clipbot.slack.ackfirst): work waiting on Rhombus never holds up the
rest; a stop waits for the work acknowledged, queued included, and tells the people whose work
it will not begin in time."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from clipbot.inflight import RHOMBUS_LISTENERS, Busy, ListenerPool
from clipbot.slack.ackfirst import RESTARTING, STORE_DOWN
from clipbot.store import StoreUnavailable
from tests import test_http
from tests.bolt import Bot, eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.test_http import card
from tests.test_run import SECRETS, Process
from tests.world import World

world = test_http.world  # a subscribed C1 with the card of clip A


class Hung:
    """Stands in for `real` (a Rhombus call), holding every call until `release` is set;
    `count` is how many calls are held."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real, self.release = real, threading.Event()
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.count += 1
        assert self.release.wait(20), "held call never released"
        return self.real(*args, **kwargs)


def test_rhombus_never_holds_up_help_status_or_triage(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With as many listings stuck on a hung Rhombus as listener threads may wait on it, and
    more queued, /clips help, /clips status and a Claim press are still answered; the listings
    are answered once Rhombus is back."""
    bot = Bot(world)
    hung = Hung(world.client.call)
    monkeypatch.setattr(world.client, "call", hung)
    listings = RHOMBUS_LISTENERS + 8
    for _ in range(listings):
        bot.command("recent 3")
    assert eventually(lambda: hung.count == RHOMBUS_LISTENERS)
    slack = world.slack
    bot.command("help", response_url=slack.response_url("help"))
    bot.command("status", response_url=slack.response_url("status"))
    bot.press("clip_claim", "A", user="U2", ts=card(world).ts, block_id="triage:0")
    answered = lambda: {name for name, _ in slack.responded}  # noqa: E731
    assert eventually(lambda: {"help", "status"} <= answered()), "held up behind Rhombus"
    assert eventually(lambda: world.store.card("A", "C1").owner == "U2")  # type: ignore[union-attr]
    assert (len(slack.responses), hung.count) == (2, RHOMBUS_LISTENERS)
    hung.release.set()
    bot.settled()
    listed = [r for r in slack.responses if r["text"] == "1 clip"]
    assert len(listed) == listings


def test_a_stop_waits_for_work_still_queued() -> None:
    """Work queued behind busy threads counts as work in progress from the moment it is
    submitted (it was acknowledged), not only once a thread takes it up."""
    busy = Busy()
    pool = ListenerPool(busy, max_workers=1)
    release = threading.Event()
    ThreadPoolExecutor.submit(pool, release.wait, 5)  # takes the one thread, uncounted
    ran: list[int] = []
    pool.submit(ran.append, 1)  # queued behind it
    assert busy.wait_idle(0.1) is False
    release.set()
    assert busy.wait_idle(5) is True
    assert ran == [1]
    pool.shutdown()


def test_sigterm_tells_everyone_whose_command_it_will_not_do(
    rhombus: FakeRhombus,
    slack: FakeSlack,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    """`clipbot run` with Rhombus hung and more listings acknowledged than its Rhombus lane
    runs at once: on SIGTERM, the listings still queued are not begun, those stuck on Rhombus
    are cut, and each person is told to try again (not silence; the answers to the cut ones go
    out after the cut); it stops in time, cleanly, without a traceback."""
    socket = FakeSocketMode().start()
    slack.socket_url = socket.url
    rhombus.add(clip("A", int(time.time() * 1000) - 60_000))
    bot = Process(["run"], {**env, "CLIPBOT_POLL_SECONDS": "600"}, tmp_path)
    try:
        assert eventually(lambda: socket.connections, timeout=30), bot.stderr
        assert eventually(lambda: rhombus.calls("getSavedClipsV2"), timeout=10)  # the poll
        rhombus.silent = True
        queued = 6
        for n in range(RHOMBUS_LISTENERS + queued):
            socket.send(
                "slash_commands",
                {
                    "command": "/clips",
                    "text": "recent 3",
                    "team_id": "T0001",
                    "channel_id": "C1",
                    "user_id": "U1",
                    "response_url": slack.response_url(),
                    "trigger_id": f"T-stop-{n}",
                },
            )
        hung = 1 + RHOMBUS_LISTENERS  # the first poll's, then a lane's worth of listings
        assert eventually(lambda: len(rhombus.calls("getSavedClipsV2")) >= hung), bot.stderr
        started = time.monotonic()
        assert bot.stop() == 0, bot.stderr
        assert time.monotonic() - started < 10
    finally:
        socket.stop()
        if bot.proc.poll() is None:
            bot.proc.kill()
    told = [r for r in slack.responses if r.get("text") == RESTARTING]
    assert len(told) == RHOMBUS_LISTENERS + queued, bot.stderr
    drained = f"stopping: {queued} request(s) acknowledged earlier will not be acted on"
    assert bot.stderr.count(drained) == 1  # one line for them all
    assert "Traceback" not in bot.stderr
    assert [s for s in SECRETS if s in bot.stderr] == []


def test_a_request_after_the_pools_shut_is_left_for_slack_to_deliver_again(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A request dispatched once the listener pools are shut (the process is stopping) is not
    acknowledged (Slack delivers it again elsewhere or later), and nobody is told it failed."""
    caplog.set_level(logging.INFO, "clipbot.slack.ackfirst")
    bot = Bot(world)
    bot.built.listeners.shutdown()
    ack = bot.command("help")
    assert ack.status == 500
    time.sleep(0.2)
    assert world.slack.responses == []
    assert "stopping: a command was not taken; Slack will deliver it again" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_note_form_that_fails_after_its_ack_is_answered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Resolve note submitted while the database is down: its modal closed at the
    acknowledgement, so the submitter is told in the card's channel that nothing was done
    (not silence, which reads as resolved)."""

    def down(*args: object, **kwargs: object) -> None:
        raise StoreUnavailable("the database does not answer")

    bot = Bot(world)
    monkeypatch.setattr(world.store, "card", down)
    meta = json.dumps({"c": "A", "ch": "C1", "a": "resolve", "v": 0})
    ack = bot.submit_note(meta, "done", user="U2")
    assert (ack.status, ack.body) == (200, "")
    (told,) = eventually(lambda: world.slack.called("chat.postEphemeral"))
    assert (told["channel"], told["user"], told["text"]) == ("C1", "U2", STORE_DOWN)
