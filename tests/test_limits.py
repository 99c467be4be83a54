"""Every builder stays inside Slack's limits, counting what it leaves out and offering the rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clipbot import blocks, replies
from clipbot.access import Access
from clipbot.home_tab import home_view
from clipbot.listing import Cursor, Found
from clipbot.records import Clip
from clipbot.state import Card, Health, PollOutcome, Subscription
from tests.bolt import Bot, eventually
from tests.fakes import blockkit
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.test_blocks import assert_snapshot
from tests.world import T0, World

NOW = T0 + 3_600_000
CONSOLE = "https://console.rhombussystems.com"
CAMERAS = tuple(f"CAM{i:019d}" for i in range(1, 7))
CAMERA_NAMES = (
    "Loading Dock North",
    "Loading Dock South",
    "Warehouse Aisle 14",
    "Front Door Lobby",
    "Parking Lot East",
    "Server Room",
)
TITLE = "Forklift reversing near the loading bay without a spotter & fast"


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    rhombus.cameras = [{"uuid": u, "name": n} for u, n in zip(CAMERAS, CAMERA_NAMES, strict=True)]
    w = World(rhombus, slack, tmp_path / "clipbot.db", page_size=100)
    yield w
    w.close()


def accepted(message: dict[str, Any]) -> None:
    """Slack would post this message (the fake's own check)."""
    assert blockkit.message_error(message.get("text"), message.get("blocks")) is None


def line_titles(message: dict[str, Any]) -> list[str]:
    return [
        line.split("|", 1)[1].split(">", 1)[0]
        for block in message["blocks"]
        if block["type"] == "section"
        for line in block["text"]["text"].splitlines()
        if line.startswith("• *<")
    ]


def multi_camera_clip(i: int) -> Clip:
    return Clip(
        uuid=f"CLIP{i:018d}",
        title=f"{TITLE} {i}",
        created_at_ms=NOW - i * 60_000,
        timestamp_ms=NOW - i * 60_000 - 30_000,
        duration_sec=95,
        status="COMPLETE",
        camera_ids=CAMERAS,
    )


class TestListing:
    def test_fifty_multi_camera_clips(self, world: World) -> None:
        """`/clips 50` over clips from six cameras lists what fits, says so, and More lists the
        rest: every clip once, in order, no message refused."""
        world.rhombus.add(
            *(
                clip(f"M{i:02d}", NOW - 60_000 * i, title=f"{TITLE} {i:02d}", cameras=CAMERAS)
                for i in range(60)
            )
        )
        bot = Bot(world)
        bot.command("50")
        first = bot.next_response()
        shown = line_titles(first)
        assert 0 < len(shown) < 50
        assert first["blocks"][-2] == blocks.context(
            "That is all that fits in one message; press More for the rest."
        )
        seen = list(shown)
        reply = first
        while reply["blocks"][-1]["type"] == "actions":
            bot.press("clips_more", reply["blocks"][-1]["elements"][0]["value"])
            reply = bot.next_response()
            seen += line_titles(reply)
        assert seen == [f"{TITLE} {i:02d}".replace("&", "&amp;") for i in range(60)]

    def test_snapshot(self) -> None:
        """The largest listing: as many of 50 multi-camera clips as fit, More for the rest."""
        clips = [multi_camera_clip(i) for i in range(50)]
        found = Found(clips=clips, names={c.uuid: CAMERA_NAMES for c in clips}, scanned=50)
        fits = replies.listing_fits(found, CONSOLE)
        assert fits < 50
        shown = Found(
            clips=clips[:fits],
            names=found.names,
            scanned=fits,
            more=Cursor(clips[fits - 1].created_at_ms, (clips[fits - 1].uuid,)),
        )
        message = replies.listing(
            shown, "50", CONSOLE, first_page=True, shortened=True, more="c0RSlZwY8aY1XqHx"
        )
        accepted(message)
        assert_snapshot("listing_50_multi_camera", message)


class TestMoreButton:
    WORD = "äöüßäöüßäöüß"
    QUERY = "50 " + " ".join([WORD] * 37)  # 483 characters: 2,664 in the old JSON value

    def test_long_query_and_many_ties(self, world: World) -> None:
        """A 480-character non-ASCII query over 100 clips saved in the same millisecond: the
        More button carries a short key, and pressing it lists the other 50, none twice."""
        world.rhombus.add(
            *(clip(f"T{i:03d}", NOW - 60_000, title=f"{self.WORD} {i:03d}") for i in range(100))
        )
        bot = Bot(world)
        bot.command(self.QUERY)
        first = bot.next_response()
        value = first["blocks"][-1]["elements"][0]["value"]
        assert len(value) <= 20
        bot.press("clips_more", value)
        second = bot.next_response()
        seen = line_titles(first) + line_titles(second)
        assert sorted(seen) == [f"{self.WORD} {i:03d}" for i in range(100)]

    def test_expires(self, world: World) -> None:
        """A day later the button says it is out of date instead of guessing."""
        world.rhombus.add(*(clip(f"E{i}", NOW - 60_000 * i) for i in range(3)))
        bot = Bot(world)
        bot.command("2")
        value = bot.next_response()["blocks"][-1]["elements"][0]["value"]
        world.now[0] += 24 * 3_600_000 + 1
        bot.press("clips_more", value)
        assert bot.next_response()["text"] == "That More button is out of date; run /clips again."

    def test_buttons_from_before_keep_working(self, world: World) -> None:
        """A button that still carries its position (posted before the upgrade) continues."""
        world.rhombus.add(*(clip(f"O{i}", NOW - 60_000 * i) for i in range(3)))
        bot = Bot(world)
        bot.press("clips_more", Cursor(NOW - 60_000, ("O1",)).to_value("2"))
        assert line_titles(bot.next_response()) == ["Clip O2"]


def subscription(i: int) -> Subscription:
    return Subscription(
        channel_id=f"C{i:010d}",
        team_id="T0001",
        created_by=f"U{i:010d}",
        created_at_ms=T0 + i,
        start_ms=T0,
        camera="Loading Dock North" if i % 2 else None,
        min_duration_sec=30 if i % 3 else None,
        include_private=bool(i % 5 == 0),
        broken="not_in_channel" if i % 7 == 0 else None,
    )


HEALTH = Health(
    last_outcome=PollOutcome.OK,
    consecutive_failures=0,
    skipped_records=0,
    position_ms=NOW,
    last_success_ms=NOW,
    last_error=None,
    last_error_ms=None,
    posted_since=3,
    posted_total=300,
    broken=(),
)


class TestSubscriptions:
    def test_home_with_forty_subscriptions(self) -> None:
        """The Home tab lists 40 subscriptions whole (none cut mid-line), within a view's limits."""
        subs = [subscription(i) for i in range(40)]
        view = home_view(HEALTH, subs, [], NOW, 30, CONSOLE, Access())
        assert blockkit.view_error(view) is None
        text = "\n".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")
        for sub in subs:
            assert f"• <#{sub.channel_id}> — " in text
            assert f"by <@{sub.created_by}>, " in text
        assert_snapshot("home_40_subscriptions", view)

    def test_home_counts_what_does_not_fit(self) -> None:
        """Past a Home tab's 100 blocks, subscriptions are counted, and the command named."""
        subs = [subscription(i) for i in range(3000)]
        view = home_view(HEALTH, subs, [], NOW, 30, CONSOLE, Access())
        assert blockkit.view_error(view) is None
        (note,) = [b for b in view["blocks"] if b["type"] == "context"]
        listed = sum(
            b["text"]["text"].count("• <#") for b in view["blocks"] if b["type"] == "section"
        )
        assert note == blocks.context(
            f"…and {3000 - listed} more. `/clips subscriptions` lists them all."
        )

    def test_subscriptions_reply_pages(self, world: World) -> None:
        """`/clips subscriptions` with more than fit: a page, a count and More, every one once."""
        for i in range(120):
            world.store.subscribe(subscription(i))
        bot = Bot(world)
        bot.command("subscriptions")
        reply = bot.next_response()
        assert reply["text"] == "120 subscriptions"
        channels: list[str] = []
        while True:
            channels += [
                line.split(">", 1)[0].removeprefix("• <#")
                for b in reply["blocks"]
                if b["type"] == "section"
                for line in b["text"]["text"].splitlines()
            ]
            if reply["blocks"][-1]["type"] != "actions":
                break
            assert reply["blocks"][-2] == blocks.context(
                f"…and {120 - len(channels)} more subscriptions."
            )
            bot.press("subscriptions_more", reply["blocks"][-1]["elements"][0]["value"])
            reply = bot.next_response()
        assert channels == [f"C{i:010d}" for i in range(120)]


def open_card(i: int) -> Card:
    return Card(
        clip=Clip(f"OPEN{i:06d}", title=f"{TITLE} {i}", created_at_ms=T0 + i),
        channel_id="C1",
        posted_at_ms=T0 + i * 1000,
        ts=f"1700000000.{i:06d}",
        state="claimed" if i % 2 else "open",
        state_by="U2" if i % 2 else None,
        state_at_ms=T0 + i * 1000 + 5 if i % 2 else None,
        owner="U2" if i % 2 else None,
        version=1 if i % 2 else 0,
    )


class TestOpen:
    def test_two_hundred_open_cards(self, world: World) -> None:
        """`/clips open` over 200 open cards: a page, how many more, and More to the end."""
        cards = [open_card(i) for i in range(200)]
        world.store.reserve(cards)
        for card in cards:
            world.store.confirm("C1", [card.clip.uuid], card.ts or "")
        bot = Bot(world)
        bot.command("open")
        reply = bot.next_response()
        assert reply["text"] == "200 open clips"
        assert reply["blocks"][-2] == blocks.context("…and 175 more open clips.")
        seen = line_titles(reply)
        while reply["blocks"][-1]["type"] == "actions":
            bot.press("open_more", reply["blocks"][-1]["elements"][0]["value"])
            reply = bot.next_response()
            seen += line_titles(reply)
        assert seen == [f"{TITLE} {i}".replace("&", "&amp;") for i in range(200)]

    def test_snapshot(self) -> None:
        """The first page of 200 open cards."""
        page = [(open_card(i), f"https://test.slack.com/archives/C1/p{i}") for i in range(25)]
        message = replies.open_reply(page, T0 + 3_600_000, rest=175)
        accepted(message)
        assert_snapshot("open_200", message)


class TestDigest:
    def digest_cards(self, count: int, oldest_age_ms: int) -> list[Card]:
        first = NOW - oldest_age_ms
        return [
            Card(
                clip=Clip(
                    uuid=f"D{i:021d}",
                    title=f"{TITLE} {i}",
                    created_at_ms=first + i * 10,
                    camera_ids=CAMERAS,
                ),
                channel_id="C1",
                posted_at_ms=NOW,
                kind="digest",
                camera_names=CAMERA_NAMES,
            )
            for i in range(count)
        ]

    def test_five_thousand_clips(self) -> None:
        """A digest of 5,000 clips after a long outage fits one message and says how to list
        them all, with `since:` covering the oldest clip's age, not the clips' span."""
        cards = self.digest_cards(5000, oldest_age_ms=30 * 3_600_000)  # all within 50 s
        message = blocks.digest(cards, CONSOLE)
        accepted(message)
        note = message["blocks"][-1]["elements"][0]["text"]
        listed = sum(
            b["text"]["text"].count("\n• ") + 1 for b in message["blocks"][1:-1] if "text" in b
        )
        assert note == f"…and {5000 - listed} more. `/clips 50 since:31h` lists them."
        assert_snapshot("digest_5000", message)

    def test_posted_by_the_poller(self, world: World) -> None:
        """A long outage's digest posts (the strict fake takes it) and names every clip's span."""
        world.subscribe("C1", start_ms=T0 - 48 * 3_600_000)
        world.rhombus.add(
            *(
                clip(f"L{i:04d}", T0 - 40 * 3_600_000 + i, title=TITLE, cameras=CAMERAS)
                for i in range(300)
            )
        )
        world.poller.poll_once()
        (digest,) = eventually(lambda: world.slack.posts("C1"))
        assert digest.text == "300 new clips"
        note = digest.blocks[-1]["elements"][0]["text"]  # type: ignore[index]
        assert note.endswith("`/clips 50 since:42h` lists them.")


class TestFitted:
    def test_whole_lines_only(self) -> None:
        """Lines go into sections whole, up to the block and character budgets; the rest is
        counted."""
        lines = [f"line {i} " + "x" * 990 for i in range(30)]
        sections, left = blocks.fitted(lines, max_blocks=50, max_chars=12_000)
        texts = [s["text"]["text"] for s in sections]
        assert "\n".join(texts).splitlines() == lines[:12]
        assert left == 18
        assert all(len(t) <= 3000 for t in texts)
        sections, left = blocks.fitted(lines, max_blocks=2)
        assert (len(sections), left) == (2, 24)

    def test_many_cameras(self) -> None:
        """A clip from many cameras names those that fit and counts the others."""
        names = tuple(f"Camera number {i:02d}" for i in range(20))
        assert blocks.cameras_text(names) == ", ".join(names[:6]) + " +14 more"
        assert blocks.cameras_text(("A & B",)) == "A &amp; B"
