"""A card in doubt is sent again only when Slack's history shows it is not there: Slack's own
trouble while it is looked for (5xx, `internal_error`, rate limits beyond the retries) leaves it
in doubt for the next cycle, as no answer does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack
from tests.world import T0, World

TROUBLE = [
    Reply.json({"ok": False, "error": "internal_error"}, 500),
    Reply.json({"ok": False, "error": "service_unavailable"}, 503),
    Reply.json({"ok": False, "error": "fatal_error"}),
]


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    yield w
    w.close()


class TestHistoryTrouble:
    @pytest.mark.parametrize("trouble", TROUBLE, ids=lambda r: str(r.status))
    def test_card_in_doubt_stays_in_doubt(self, world: World, trouble: Reply) -> None:
        """The card's answer was lost (it is in the channel), then the history answers with
        Slack's trouble: the card is not posted again, and is confirmed once history answers."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1))
        world.slack.lose_answers("chat.postMessage")
        world.poller.poll_once()
        assert [c.clip.uuid for c in world.store.in_doubt()] == ["A"]
        world.slack.fail("conversations.history", trouble)
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A"]
        assert [c.clip.uuid for c in world.store.in_doubt()] == ["A"]
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A"]
        assert world.store.in_doubt() == []
        (card,) = world.store.cards("C1")
        assert card.ts == world.slack.posts("C1")[0].ts

    @pytest.mark.parametrize("trouble", TROUBLE, ids=lambda r: str(r.status))
    def test_thread_line_in_doubt_stays_in_doubt(self, world: World, trouble: Reply) -> None:
        """The same for a burst's line in its card's thread (conversations.replies)."""
        world.subscribe("C1", group_ms=120_000)
        world.rhombus.add(clip("A", T0 + 1))
        world.poller.poll_once()
        card_ts = world.slack.posts("C1")[0].ts
        world.rhombus.add(clip("B", T0 + 30_000))
        world.slack.lose_answers("chat.postMessage")
        world.poller.poll_once()
        assert [c.clip.uuid for c in world.store.in_doubt()] == ["B"]
        world.slack.fail("conversations.replies", trouble)
        world.poller.poll_once()
        assert [m.text for m in world.slack.replies("C1", card_ts)] == [
            "Also from Front Door: Clip B"
        ]
        assert [c.clip.uuid for c in world.store.in_doubt()] == ["B"]
        world.poller.poll_once()
        assert len(world.slack.replies("C1", card_ts)) == 1
        assert world.store.in_doubt() == []


class TestOrderWhileInDoubt:
    def test_newer_cards_wait_for_the_card_in_doubt(self, world: World) -> None:
        """A card whose post got no answer (Slack never took it) cannot be looked for while
        Slack is in trouble: the channel's newer clips wait for it, so when it is found missing
        and posted, the channel's order is kept."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1))
        world.slack.fail("chat.postMessage", Reply(drop=True))  # not taken, no answer
        world.poller.poll_once()
        assert [c.clip.uuid for c in world.store.in_doubt()] == ["A"]
        world.rhombus.add(clip("B", T0 + 2))
        world.slack.fail("conversations.history", TROUBLE[0])
        world.poller.poll_once()
        assert world.posted_uuids("C1") == []
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A", "B"]
