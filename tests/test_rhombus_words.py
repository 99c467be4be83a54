"""Rhombus's own words (`errorMsg`, `msg`) pass into Slack replies, the CLI and the health
record cut to a bounded length: a long one would make a reply Slack refuses, leaving the
person with no answer at all."""

from __future__ import annotations

from clipbot.rhombus_errors import SAID_CHARS
from clipbot.slack.commands import AGAIN
from tests import test_http
from tests.bolt import Bot
from tests.fakes.rhombus import API_KEY
from tests.fakes.server import Reply
from tests.world import World

world = test_http.world  # a subscribed C1 with the card of clip A


def test_a_long_rhombus_error_still_reaches_the_person(world: World) -> None:
    """/clips while Rhombus answers `error: true` with a 50,000-character errorMsg quoting the
    API key: the person is told why, in a reply Slack takes, with the key masked."""
    bot = Bot(world)
    said = API_KEY + " " + "y" * 50_000
    world.rhombus.fail("getSavedClipsV2", Reply.json({"error": True, "errorMsg": said}))
    bot.command("recent 3")
    reply = bot.next_response()
    shown = "*** " + "y" * (SAID_CHARS - 5) + "…"
    failed = f"Rhombus event/getSavedClipsV2 failed: {shown}"
    assert reply["text"] == f":warning: Could not list clips: {failed}. {AGAIN}"
    assert API_KEY not in str(world.slack.responses)
