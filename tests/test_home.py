"""The App Home tab through the real Bolt stack: running mutes, in the team's time zone, within
a Home view's limits (the fake Slack refuses a view past them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.bolt import Bot, eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.world import World

DOCK = ("CAM0000000000000000002",)  # the fake Rhombus's "Loading Dock"


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    w.subscribe("C1")
    w.subscribe("C2")
    yield w
    w.close()


@pytest.fixture
def bot(world: World, monkeypatch: pytest.MonkeyPatch) -> Bot:
    bot = Bot(world)
    monkeypatch.setattr(bot.deps, "zone", ZoneInfo("America/New_York"))  # CLIPBOT_TIMEZONE
    return bot


def home(bot: Bot, world: World) -> dict[str, Any]:
    """The Home view published when a user opens the tab."""
    bot.home_opened(user="U5")
    (published,) = eventually(lambda: world.slack.called("views.publish"))
    view: dict[str, Any] = published["view"]
    return view


def muted_part(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The blocks between the divider before ":mute: *Muted*" and the next divider."""
    blocks = view["blocks"]
    start = next(
        i
        for i, b in enumerate(blocks)
        if b["type"] == "section" and b["text"]["text"].startswith(":mute: *Muted*")
    )
    end = next(i for i in range(start, len(blocks)) if blocks[i]["type"] == "divider")
    return list(blocks[start:end])


class TestHomeMutes:
    def test_running_mutes_are_listed(self, bot: Bot, world: World) -> None:
        """Each running mute: its channel, camera, end in the team's time zone, and what it
        held back; an ended mute is not listed."""
        for channel, text in [
            ("C1", "mute camera:dock for:2h"),
            ("C2", 'mute camera:"front door" for:30m'),
            ("C2", "mute camera:gate for:1h"),
            ("C2", "unmute camera:gate"),
        ]:
            bot.command(text, channel=channel)
            bot.next_response()
        world.rhombus.add(clip("HELD", world.now[0] + 1000, cameras=DOCK))
        world.poller.poll_once()
        (part,) = muted_part(home(bot, world))
        # 17:00 UTC is 12:00 in New York (EST).
        assert part["text"]["text"].splitlines() == [
            ":mute: *Muted*",
            "• <#C1> muted until Mon 24 Nov 14:00 (America/New_York): cameras matching “dock”: "
            "1 clip held back — `/clips camera:dock since:1m` lists them",
            "• <#C2> muted until Mon 24 Nov 12:30 (America/New_York): cameras matching "
            "“front door”: 0 clips held back",
        ]

    def test_no_running_mute_no_part(self, bot: Bot, world: World) -> None:
        """Without a running mute the Home tab has no Muted part."""
        world.store.mute("C1", "dock", world.now[0] - 7_200_000, world.now[0] - 1, "U1")
        view = home(bot, world)
        texts = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
        assert [t for t in texts if ":mute:" in t] == []

    def test_many_mutes_are_counted_not_cut(self, bot: Bot, world: World) -> None:
        """More running mutes than a Home tab holds: whole lines that fit, then "…and N more"
        pointing to /clips status, which lists more of them and counts the rest; Slack takes
        both (the fake checks a view's limits and a message's 40,000 characters)."""
        now = world.now[0]
        cameras = [f"camera {i:04d} " + "x" * 150 for i in range(600)]
        for camera in cameras:
            world.store.mute("C1", camera, now, now + 3_600_000, "U1")
        view = home(bot, world)
        assert world.slack.refused == []
        assert len(view["blocks"]) <= 100
        *sections, note = muted_part(view)
        listed = sum(s["text"]["text"].count("• <#C1> muted until") for s in sections)
        assert 0 < listed < 600
        assert all(s["type"] == "section" and len(s["text"]["text"]) <= 3000 for s in sections)
        assert note == {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"…and {600 - listed} more. `/clips status` lists more of them.",
                }
            ],
        }
        shown = "\n".join(s["text"]["text"] for s in sections)
        assert [c for c in cameras if f"“{c}”" in shown] == cameras[:listed]  # whole, in order
        bot.command("status", channel="C2")
        status = bot.next_response()["text"].splitlines()
        in_status = sum(line.startswith("• <#C1> muted until") for line in status)
        assert listed <= in_status < 600
        assert status[-2:] == [
            f"…and {600 - in_status} more running mutes.",
            "This replica: leader",
        ]
