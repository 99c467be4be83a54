"""Answers to a command or press reach the person even when Slack refuses the response_url."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bolt import Bot, eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack
from tests.world import T0, World

NOW = T0 + 3_600_000
NOTHING = "No channel is subscribed yet. Use `/clips subscribe` in a channel."


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    yield w
    w.close()


@pytest.fixture
def bot(world: World) -> Bot:
    return Bot(world)


class TestFallback:
    def test_failing_response_url(self, bot: Bot, world: World) -> None:
        """A response_url answering 500 does not lose the answer: it comes as an ephemeral."""
        world.slack.fail_response(Reply(500, b"internal_error"))
        bot.command("subscriptions", channel="C7", user="U7")
        (sent,) = eventually(lambda: world.slack.ephemerals)
        assert (sent.channel, sent.text) == ("C7", NOTHING)
        assert world.slack.called("chat.postEphemeral")[0]["user"] == "U7"
        assert world.slack.responses == []

    def test_expired_response_url(self, bot: Bot, world: World) -> None:
        """After 30 minutes (or 5 uses) the URL is spent; the listing, blocks and all, still
        arrives."""
        world.rhombus.add(*(clip(f"C{i}", NOW - 1000 * i) for i in range(3)))
        url = world.slack.response_url()
        world.slack.advance(30 * 60 + 1)
        bot.command("2", response_url=url)
        (sent,) = eventually(lambda: world.slack.ephemerals)
        assert sent.text == "2 clips"
        assert [b["type"] for b in sent.blocks or []] == ["section", "actions"]

    def test_spent_press(self, bot: Bot, world: World) -> None:
        """A button press whose response_url is used up still tells the presser."""
        world.slack.fail_response(Reply(404, b"expired_url"))
        bot.press("clip_claim", "NO-SUCH-CARD", channel="C2", user="U2")
        (sent,) = eventually(lambda: world.slack.ephemerals)
        assert (sent.channel, sent.text) == (
            "C2",
            "clipbot has no record of this card any more, so its buttons do nothing. "
            "Find the clip with `/clips`, or open it in the Rhombus console from the card's title.",
        )

    def test_both_refused_is_logged_not_raised(
        self, bot: Bot, world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        """When chat.postEphemeral fails too, the failure is logged once; nothing crashes."""
        world.slack.fail_response(Reply(500))
        world.slack.fail(
            "chat.postEphemeral", Reply.json({"ok": False, "error": "channel_not_found"})
        )
        with caplog.at_level(logging.WARNING):
            bot.command("subscriptions", channel="CGONE", user="U3")
            eventually(lambda: world.slack.called("chat.postEphemeral"))
            eventually(lambda: "could not answer" in caplog.text)
        assert "could not answer U3 in CGONE: channel_not_found" in caplog.text
        assert "Traceback" not in caplog.text
