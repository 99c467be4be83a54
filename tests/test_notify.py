"""`subscribe … notify:@someone`: stored from Slack's escaped mention, shown, and in every new card."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bolt import Bot
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.test_commands import lines
from tests.world import T0, World

NOW = T0 + 3_600_000


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db", digest_threshold=3)
    yield w
    w.close()


class TestSubscribe:
    def test_user_group_from_escaped_text(self, world: World) -> None:
        """A user group as Slack escapes it is stored as its mention, said back, and listed."""
        bot = Bot(world)
        bot.command("subscribe camera:dock notify:<!subteam^SAZ94GDB8|@security-team>")
        assert bot.next_response()["text"] == (
            "Subscribed <#C1> to new clips from cameras matching “dock”, notifying "
            "<!subteam^SAZ94GDB8>. Clips saved before now are not posted."
        )
        sub = world.store.subscription("C1")
        assert sub is not None and sub.notify == "<!subteam^SAZ94GDB8>"
        bot.command("subscriptions")
        assert lines(bot.next_response())[0].startswith(
            "• <#C1> — cameras matching “dock”, notifying <!subteam^SAZ94GDB8> — by <@U1>"
        )

    def test_user_from_escaped_text(self, world: World) -> None:
        """A person as Slack escapes them (<@U…|name>) is stored as <@U…>."""
        bot = Bot(world)
        bot.command("subscribe notify:<@U024BE7LH|maria>", channel="C2")
        bot.next_response()
        sub = world.store.subscription("C2")
        assert sub is not None and sub.notify == "<@U024BE7LH>"

    def test_plain_text_mention_is_refused(self, world: World) -> None:
        """`notify:@maria` that Slack did not escape cannot be resolved: refused, nothing stored."""
        bot = Bot(world)
        bot.command("subscribe notify:@maria")
        assert bot.next_response()["text"].startswith(
            ":warning: `notify:@maria` arrived as plain text, not as a Slack mention: pick the"
            " person or group from the @ menu (the app's /clips command needs should_escape)."
        )
        bot.settled()
        assert world.store.subscriptions() == []


class TestCards:
    def test_each_new_card_mentions(self, world: World) -> None:
        """Every card in a channel with notify: starts its text with the mention; others do not."""
        world.subscribe("C1", notify="<!subteam^S1>")
        world.subscribe("C2")
        world.rhombus.add(clip("A", T0 + 1, title="Back gate"), clip("B", T0 + 2))
        world.poller.poll_once()
        assert [m.text for m in world.slack.posts("C1")] == [
            "<!subteam^S1> New clip: Back gate",
            "<!subteam^S1> New clip: Clip B",
        ]
        assert [m.text for m in world.slack.posts("C2")] == [
            "New clip: Back gate",
            "New clip: Clip B",
        ]
        bell = {"type": "context", "elements": [{"type": "mrkdwn", "text": ":bell: <!subteam^S1>"}]}
        assert [(m.blocks or [])[-1] for m in world.slack.posts("C1")] == [bell, bell]
        assert all(bell not in (m.blocks or []) for m in world.slack.posts("C2"))

    def test_digest_mentions_once(self, world: World) -> None:
        """A digest is one message and mentions once."""
        world.subscribe("C1", notify="<@U7>")
        world.rhombus.add(*(clip(f"K{i}", T0 + i) for i in range(1, 6)))
        world.poller.poll_once()
        (digest,) = world.slack.posts("C1")
        assert digest.text == "<@U7> 5 new clips"
        assert [b for b in digest.blocks or [] if "<@U7>" in str(b)] == [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": ":bell: <@U7>"}]}
        ]

    def test_long_digest_with_a_mention_fits(self, world: World) -> None:
        """A digest of 300 clips with a mention stays inside Slack's limits (the strict fake
        takes it) and still ends with the mention."""
        world.subscribe("C1", notify="<!subteam^S1>")
        world.rhombus.add(*(clip(f"L{i:03d}", T0 + i) for i in range(1, 301)))
        world.poller.poll_once()
        (digest,) = world.slack.posts("C1")
        assert digest.text == "<!subteam^S1> 300 new clips"
        assert len(digest.blocks or []) <= 50
        assert (digest.blocks or [])[-1]["elements"][0]["text"] == ":bell: <!subteam^S1>"

    def test_edit_keeps_the_mention(self, world: World) -> None:
        """A status change edits the card in place, which still names who the channel notifies
        (an edit notifies nobody again)."""
        world.subscribe("C1", notify="<@U7>")
        world.rhombus.add(clip("A", T0 + 1, status="RENDERING"))
        world.poller.poll_once()
        world.rhombus.update("A", status="COMPLETE")
        world.poller.poll_once()
        (card,) = world.slack.posts("C1")
        assert (card.edits, card.text) == (1, "<@U7> New clip: Clip A")
        assert (card.blocks or [])[-1]["elements"][0]["text"] == ":bell: <@U7>"
        assert len(world.slack.posts("C1")) == 1
