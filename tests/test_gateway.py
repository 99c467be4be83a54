"""One Slack gateway: every Web API call goes through SlackPoster, which classifies failures
once, paces each channel's posts and logs what failed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from clipbot.notify import SlackPoster
from clipbot.slack.app import build_app
from clipbot.slack_errors import SlackFailure, classify
from tests.bolt import Bot, eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import BOT_TOKEN, FakeSlack
from tests.world import T0, World


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    yield w
    w.close()


def refused(error: str, status: int = 200) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.test/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=status,
    )
    return SlackApiError("refused", response)


IMAGE = {"text": "t", "blocks": [{"type": "image", "slack_file": {"id": "F1"}, "alt_text": "x"}]}


class TestClassify:
    @pytest.mark.parametrize(
        ("exc", "message", "kind"),
        [
            (refused("channel_not_found"), None, SlackFailure.BROKEN_CHANNEL),
            (refused("is_archived"), None, SlackFailure.BROKEN_CHANNEL),
            (refused("invalid_blocks"), IMAGE, SlackFailure.IMAGE_REFUSED),
            (refused("invalid_blocks"), {"text": "t", "blocks": []}, SlackFailure.PERMANENT),
            (refused("ratelimited", 429), None, SlackFailure.TRANSIENT),
            (refused("internal_error"), None, SlackFailure.TRANSIENT),
            (refused("anything", 503), None, SlackFailure.TRANSIENT),
            (SlackClientError("connection reset"), None, SlackFailure.TRANSIENT),
            (TimeoutError(), None, SlackFailure.TRANSIENT),
            (refused("restricted_action"), None, SlackFailure.PERMANENT),
            (refused("msg_too_long"), None, SlackFailure.PERMANENT),
        ],
    )
    def test_kinds(
        self, exc: Exception, message: dict[str, object] | None, kind: SlackFailure
    ) -> None:
        """Each answer Slack gives, or the lack of one, is read as one kind of failure."""
        assert classify(exc, message) is kind


class TestOneGateway:
    def test_listeners_never_use_bolts_client(self, world: World) -> None:
        """Bolt's own WebClient (here on a Slack of its own) is asked only Bolt's auth.test:
        subscribing, the open list, the Home tab and the note modal all go through the
        gateway."""
        world.rhombus.add(clip("A", T0 + 3_600_000 - 1000))
        bot = Bot(world)
        bolts = FakeSlack().start()
        try:
            bot.app = build_app(bot.deps, WebClient(token=BOT_TOKEN, base_url=bolts.api_url), "x")
            self._use(bot, world)
        finally:
            bolts.stop()
        assert {c.method for c in bolts.calls} == {"auth.test"}

    def _use(self, bot: Bot, world: World) -> None:
        bot.command("subscribe")
        assert bot.next_response()["text"].startswith("Subscribed <#C1> to new clips")
        world.rhombus.add(clip("B", T0 + 3_600_000 + 1000))
        world.now[0] += 5000
        world.poller.poll_once()
        bot.command("open")
        assert "Clip B" in bot.next_response()["text"] or bot.world.slack.called(
            "chat.getPermalink"
        )
        bot.home_opened()
        eventually(lambda: world.slack.called("views.publish"))
        (card,) = [m for m in world.slack.posts("C1") if m.metadata]
        bot.press("clip_resolve", "B", ts=card.ts, block_id="triage:0")
        assert eventually(lambda: world.slack.called("views.open"))

    def test_refused_announcement_is_explained(self, world: World) -> None:
        """A subscription whose announcement Slack refuses (not a broken channel) is not made,
        and the person is told why, not "something went wrong"."""
        world.slack.fail(
            "chat.postMessage", Reply.json({"ok": False, "error": "restricted_action"})
        )
        bot = Bot(world)
        bot.command("subscribe")
        assert bot.next_response()["text"] == (
            ":warning: Nothing was subscribed: Slack did not take the announcement here "
            "(restricted_action). Try again in a moment."
        )
        assert world.store.subscriptions() == []

    def test_announcement_whose_answer_is_lost_still_subscribes(self, world: World) -> None:
        """Slack posted the announcement but its answer was lost: the channel reads that it is
        subscribed, so it is, and its next clip is posted there."""
        world.slack.lose_answers("chat.postMessage")
        bot = Bot(world)
        bot.command("subscribe")
        assert bot.next_response()["text"].startswith("Subscribed <#C1> to new clips")
        assert [m.text for m in world.slack.posts("C1")] == [
            "<@U1> subscribed this channel to new clips from all cameras."
        ]
        (sub,) = world.store.subscriptions()
        world.rhombus.add(clip("N", sub.start_ms + 1_000, title="After"))
        world.poller.poll_once()
        assert [m.text for m in world.slack.posts("C1")][1:] == ["New clip: After"]


class TestPacingAndLogs:
    def test_thread_replies_share_the_channel_pace(self, world: World) -> None:
        """A card and the lines in its thread count against the same per-channel pace."""
        clock, slept = [100.0], []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            clock[0] += seconds

        poster = SlackPoster(world.web, pace_seconds=1.0, sleep=sleep, monotonic=lambda: clock[0])
        ts = poster.post("C1", {"text": "card", "blocks": None}).ts
        poster.reply("C1", ts, "first line")
        poster.reply("C1", ts, "second line")
        poster.reply("C2", "1.0", "elsewhere: no wait")
        assert slept == [1.0, 1.0]

    def test_failures_logged_with_their_kind(
        self, world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A failed call the caller can live without is logged once, classified."""
        world.slack.channel("CGONE", error="channel_not_found")
        world.slack.fail(
            "chat.getPermalink", Reply.json({"ok": False, "error": "channel_not_found"})
        )
        with caplog.at_level(logging.WARNING, logger="clipbot.notify"):
            assert world.poster.permalink("CGONE", "1.0") is None
        assert caplog.messages == [
            "slack chat.getPermalink for CGONE failed: channel_not_found (broken_channel)"
        ]
