"""Who may see and do what, through the real Bolt stack: private opt-in and CLIPBOT_SHARE."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot.access import PRIVATE_NEEDS_ADMINS, Access, SharePolicy
from clipbot.bot import build
from clipbot.config import Settings
from clipbot.state import Subscription
from tests.bolt import Bot, eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.slack import FakeSlack, Message
from tests.world import T0, World

NOW = T0 + 3_600_000
FLAG = (
    "`private:yes` was set by <@U7>, who is not in CLIPBOT_ADMINS: private clips are held back "
    "until an admin subscribes this channel again"
)


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    yield w
    w.close()


def buttons(message: Message) -> list[str]:
    actions = next(b for b in message.blocks or [] if b["type"] == "actions")
    return [e["text"]["text"] for e in actions["elements"]]


def posted_card(world: World) -> Message:
    world.subscribe("C1")
    world.rhombus.add(clip("A", T0 + 1, title="Gate left open"))
    world.poller.poll_once()
    (message,) = world.slack.posts("C1")
    return message


class TestPrivateOptIn:
    def test_refused_without_admins(self, world: World) -> None:
        """With CLIPBOT_ADMINS empty, private:yes is refused naming the setting; nothing changes."""
        bot = Bot(world)
        bot.command("subscribe private:yes", user="U1")
        assert bot.next_response()["text"] == PRIVATE_NEEDS_ADMINS
        assert "CLIPBOT_ADMINS" in PRIVATE_NEEDS_ADMINS
        assert (world.store.subscriptions(), world.slack.posts("C1")) == ([], [])

    def test_refused_for_non_admin(self, world: World) -> None:
        """With admins configured, only they may turn private:yes on."""
        bot = Bot(world, admins=frozenset({"UADMIN"}))
        bot.command("subscribe private:yes", user="U1")
        assert bot.next_response()["text"] == (
            "Sorry, only <@UADMIN> can change subscriptions here. Ask one of them to do it."
        )
        assert world.store.subscriptions() == []
        bot.command("subscribe private:yes", user="UADMIN")
        assert bot.next_response()["text"].startswith("Subscribed <#C1> to new clips from all")
        assert [(s.created_by, s.include_private) for s in world.store.subscriptions()] == [
            ("UADMIN", True)
        ]

    def test_public_subscription_needs_no_admin(self, world: World) -> None:
        """Without private:yes, anyone may subscribe while CLIPBOT_ADMINS is empty."""
        bot = Bot(world)
        bot.command("subscribe", user="U1")
        assert bot.next_response()["text"].startswith("Subscribed <#C1>")

    def test_existing_non_admin_private_is_kept_flagged_and_held_back(self, world: World) -> None:
        """An old private:yes by a non-admin stays, is flagged, and gets only public clips."""
        world.store.subscribe(
            Subscription("CP", "T0001", "U7", T0 - 1, T0 - 1, include_private=True)
        )
        world.rhombus.add(
            clip("PUB", T0 + 1), clip("PRIV", T0 + 2, visibility="PRIVATE"), clip("PUB2", T0 + 3)
        )
        world.poller.poll_once()
        assert world.posted_uuids("CP") == ["PUB", "PUB2"]
        bot = Bot(world, admins=frozenset({"UADMIN"}))
        bot.command("subscriptions")
        (line,) = bot.next_response()["blocks"][0]["text"]["text"].splitlines()
        assert line.endswith(" — :warning: " + FLAG)
        bot.command("status")
        assert bot.next_response()["text"].splitlines()[-2] == f":warning: <#CP>: {FLAG}"
        assert [s.channel_id for s in world.store.subscriptions()] == ["CP"]

    def test_flag_on_the_home_tab(self, world: World) -> None:
        """The Home tab flags it too, in the subscriptions and in the health lines."""
        world.store.subscribe(
            Subscription("CP", "T0001", "U7", T0 - 1, T0 - 1, include_private=True)
        )
        Bot(world, admins=frozenset({"UADMIN"})).home_opened(user="UADMIN")
        (published,) = eventually(lambda: world.slack.called("views.publish"))
        texts = [b["text"]["text"] for b in published["view"]["blocks"] if b["type"] == "section"]
        assert "\n".join(texts).count(FLAG) == 2

    def test_admin_private_subscription_gets_private_clips(self, world: World) -> None:
        """A private:yes an admin made receives private clips, unflagged."""
        world.subscribe("CP", include_private=True)  # made by UADMIN, an admin of this world
        world.rhombus.add(clip("PRIV", T0 + 2, visibility="ROLE_RESTRICTED"))
        world.poller.poll_once()
        assert world.posted_uuids("CP") == ["PRIV"]
        bot = Bot(world, admins=frozenset({"UADMIN"}))
        bot.command("status")
        assert "CLIPBOT_ADMINS" not in bot.next_response()["text"]

    def test_flagged_logged_once_at_start(
        self, env: dict[str, str], caplog: pytest.LogCaptureFixture
    ) -> None:
        """At start, each private:yes no admin made is logged once, naming channel and user."""
        bot = build(Settings.from_env({**env, "CLIPBOT_ADMINS": "UADMIN"}))
        try:
            bot.store.subscribe(Subscription("CP", "T0001", "U7", 1, 1, include_private=True))
            bot.store.subscribe(Subscription("CA", "T0001", "UADMIN", 1, 1, include_private=True))
            bot.store.subscribe(Subscription("CQ", "T0001", "U7", 1, 1))
            with caplog.at_level(logging.WARNING, logger="clipbot.bot"):
                bot._warn_flagged()
        finally:
            bot.close()
        assert [r.getMessage() for r in caplog.records] == [
            "subscription of CP: private:yes was set by U7, who is not in CLIPBOT_ADMINS;"
            " its private clips are held back until an admin subscribes it again"
        ]


class TestSharePolicy:
    def test_off_hides_the_button_and_refuses_a_forged_press(
        self, rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path
    ) -> None:
        """CLIPBOT_SHARE=off: cards have no Share link, and a forged press makes no link."""
        world = World(rhombus, slack, tmp_path / "db", access=Access(share=SharePolicy.OFF))
        try:
            card = posted_card(world)
            assert buttons(card) == ["Claim", "Resolve", "False alarm"]
            bot = Bot(world, share=SharePolicy.OFF)
            bot.press("clip_share", "A", user="U2", ts=card.ts, block_id="triage:0")
            assert bot.next_response()["text"] == (
                "Sharing clips from Slack is turned off here (CLIPBOT_SHARE=off); share it from the "
                "Rhombus console, where the card's title leads."
            )
            bot.press("clip_claim", "A", user="U2", ts=card.ts, block_id="triage:0")
            eventually(lambda: slack.replies("C1", card.ts))  # the edit comes before the reply
            assert buttons(world.slack.posts("C1")[0]) == ["Claim", "Resolve", "False alarm"]
            assert rhombus.shares == []
            assert [m.text for m in slack.replies("C1", card.ts)] == [
                f"<@U2> claimed this clip · <!date^{NOW // 1000}^{{date_short_pretty}} at "
                "{time}|2025-11-24 17:00 UTC>"
            ]
        finally:
            world.close()

    def test_admins_only(self, world: World) -> None:
        """CLIPBOT_SHARE=admins: the button shows, a non-admin is refused, an admin shares."""
        card = posted_card(world)
        assert buttons(card)[-1] == "Share link"
        bot = Bot(world, admins=frozenset({"UADMIN"}), share=SharePolicy.ADMINS)
        bot.press("clip_share", "A", user="U2", ts=card.ts)
        assert bot.next_response()["text"] == (
            "Only clipbot admins may share clips from Slack here (CLIPBOT_SHARE=admins); ask one "
            "of them to press it."
        )
        assert world.rhombus.shares == []
        bot.press("clip_share", "A", user="UADMIN", ts=card.ts)
        replies = eventually(lambda: world.slack.replies("C1", card.ts))
        assert replies[0].text.startswith("<@UADMIN> shared a link to this clip")
        assert len(world.rhombus.shares) == 1
