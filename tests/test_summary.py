"""The daily summary: its figures, its message, when it is due, and posting it exactly once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clipbot.records import Clip
from clipbot.report import DAY_MS, WEEK_MS, Figures, figures, summary_message
from clipbot.state import CLAIMED, FALSE_ALARM, OPEN, RESOLVED, SUMMARY_POSTED, Card, CardKind
from clipbot.summary import DailySummary, due
from tests.bolt import Bot
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack
from tests.test_poller import Crash, crash_on
from tests.world import World

UTC_ZONE = ZoneInfo("UTC")
AT = time(8, 0)


def ms(text: str, zone: ZoneInfo = UTC_ZONE) -> int:
    """Epoch ms of a local `YYYY-MM-DD HH:MM` in `zone`."""
    return int(datetime.fromisoformat(text).replace(tzinfo=zone).timestamp() * 1000)


def card(
    uuid: str,
    posted: int,
    state: str = OPEN,
    *,
    owner: str | None = None,
    state_at: int | None = None,
    cameras: tuple[str, ...] = ("Front Door",),
) -> Card:
    return Card(
        clip=Clip.from_api(clip(uuid, posted)) or Clip(uuid),
        channel_id="C1",
        posted_at_ms=posted,
        ts="1.000001",
        camera_names=cameras,
        state=state,
        state_by=owner,
        state_at_ms=state_at,
        owner=owner,
    )


class TestFigures:
    def test_counts_owners_medians_and_noisy_cameras(self) -> None:
        """Each figure, from clips posted in the window; noisy cameras over the week."""
        now = ms("2026-03-10 08:00")
        hour = 3_600_000
        cards = [
            card("OLD", now - 3 * DAY_MS, FALSE_ALARM, owner="U9", cameras=("Loading Dock",)),
            card("ANCIENT", now - 8 * DAY_MS, FALSE_ALARM, owner="U9", cameras=("Gate",)),
            card("A", now - 20 * hour),
            card("B", now - 10 * hour, CLAIMED, owner="U2"),
            card("C", now - 9 * hour, CLAIMED, owner="U1"),
            card("D", now - 8 * hour, CLAIMED, owner="U2"),
            card("E", now - 6 * hour, RESOLVED, owner="U1", state_at=now - 5 * hour),
            card("F", now - 4 * hour, FALSE_ALARM, owner="U1", state_at=now - 1 * hour),
            card("G", now - 2 * hour, FALSE_ALARM, owner="U2", state_at=now - 2 * hour + 60_000),
        ]
        claims = {"B": now - 10 * hour + 120_000, "C": now - 9 * hour + 600_000}
        claims["E"] = now - 6 * hour + 300_000
        got = figures(cards, claims, now_ms=now)
        assert got == Figures(
            window_ms=DAY_MS,
            camera_window_ms=WEEK_MS,
            posted=7,
            open=1,
            claimed=(("U2", 2), ("U1", 1)),
            resolved=1,
            false_alarms=2,
            median_claim_ms=300_000,
            median_resolve_ms=3_600_000,
            noisy_cameras=(("Front Door", 2), ("Loading Dock", 1)),
        )

    def test_grouped_clips_count_in_their_cards_state(self) -> None:
        """Clips in a card's thread are posted clips, in the triage state of their card."""
        now = ms("2026-03-10 08:00")
        parent = card("P", now - 3_600_000, FALSE_ALARM, owner="U1", state_at=now - 60_000)
        lines = [
            replace(card(u, now - 3_500_000), kind=CardKind.LINE, group_of="P")
            for u in ("L1", "L2")
        ]
        got = figures([parent, *lines], {}, now_ms=now)
        assert (got.posted, got.open, got.false_alarms, got.noisy_cameras) == (
            3,
            0,
            3,
            (("Front Door", 3),),
        )

    def test_nothing_posted(self) -> None:
        """No clips: zero counts and no medians."""
        got = figures([], {}, now_ms=ms("2026-03-10 08:00"), window_ms=WEEK_MS)
        assert got == Figures(window_ms=WEEK_MS, camera_window_ms=WEEK_MS)


class TestMessage:
    def test_whole_message(self) -> None:
        """The summary message, block by block."""
        figs = Figures(
            window_ms=DAY_MS,
            camera_window_ms=WEEK_MS,
            posted=7,
            open=1,
            claimed=(("U2", 2), ("U1", 1)),
            resolved=1,
            false_alarms=2,
            median_claim_ms=300_000,
            median_resolve_ms=3_900_000,
            noisy_cameras=(("Front <Door>", 2),),
        )
        assert summary_message(figs, "Daily summary — 2026-03-10") == {
            "text": "Daily summary — 2026-03-10: 7 clips in the last 24 h, 1 open, 3 claimed, 1 resolved, 2 false alarms",
            "blocks": [
                {
                    "type": "header",
                    "text": {"type": "plain_text", "text": "Daily summary — 2026-03-10"},
                },
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": "*7 clips* posted in this channel in the last 24 h.",
                    },
                },
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": "*Open (unclaimed)*\n1"},
                        {"type": "mrkdwn", "text": "*Claimed*\n3 — <@U2> 2, <@U1> 1"},
                        {"type": "mrkdwn", "text": "*Resolved*\n1"},
                        {"type": "mrkdwn", "text": "*False alarms*\n2"},
                        {"type": "mrkdwn", "text": "*Median time to claim*\n5m"},
                        {"type": "mrkdwn", "text": "*Median time to resolve*\n1h 5m"},
                    ],
                },
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": "*Most false alarms, last 7 days*\n• Front &lt;Door&gt; — 2",
                    },
                },
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "mrkdwn",
                            "text": "Counts are of the clips posted in the window, as they are now.",
                        }
                    ],
                },
            ],
        }

    def test_empty_window(self) -> None:
        """With nothing posted, the message says so and shows no counts."""
        message = summary_message(Figures(DAY_MS, WEEK_MS), "Daily summary — 2026-03-10")
        assert [b["type"] for b in message["blocks"]] == ["header", "section", "section", "context"]
        assert message["blocks"][1]["text"]["text"] == (
            "No clips were posted in this channel in the last 24 h."
        )
        assert message["blocks"][2]["text"]["text"] == (
            "*Most false alarms, last 7 days*\nNo false alarms."
        )

    def test_stays_inside_block_kit_limits(self) -> None:
        """Hundreds of owners and long camera names still fit Slack's limits."""
        figs = Figures(
            window_ms=DAY_MS,
            camera_window_ms=WEEK_MS,
            posted=900,
            claimed=tuple((f"U{i:08d}", 1) for i in range(300)),
            noisy_cameras=tuple(("x" * 400, 9) for _ in range(5)),
        )
        message = summary_message(figs, "h" * 400)
        assert len(message["blocks"]) <= 50
        assert len(message["blocks"][0]["text"]["text"]) == 150
        texts = [f["text"] for f in message["blocks"][2]["fields"]]
        assert max(len(t) for t in texts) == 2000
        assert len(message["blocks"][3]["text"]["text"]) <= 3000


class TestDue:
    @pytest.mark.parametrize(
        ("now", "expected"),
        [
            ("2026-03-10 07:59", ("2026-03-09", "2026-03-09 08:00")),
            ("2026-03-10 08:00", ("2026-03-10", "2026-03-10 08:00")),
            ("2026-03-10 23:59", ("2026-03-10", "2026-03-10 08:00")),
            ("2026-03-11 00:00", ("2026-03-10", "2026-03-10 08:00")),
        ],
    )
    def test_day_boundary(self, now: str, expected: tuple[str, str]) -> None:
        """Before the time it is yesterday's summary that is due; from the time on, today's."""
        assert due(ms(now), AT, UTC_ZONE) == (expected[0], ms(expected[1]))

    def test_in_the_configured_zone(self) -> None:
        """The time is read in CLIPBOT_TIMEZONE: 08:00 in Tokyo is 23:00 UTC the day before."""
        tokyo = ZoneInfo("Asia/Tokyo")
        assert due(ms("2026-03-09 23:00"), AT, tokyo) == ("2026-03-10", ms("2026-03-09 23:00"))
        assert due(ms("2026-03-09 22:59"), AT, tokyo)[0] == "2026-03-09"

    def test_across_a_dst_change(self) -> None:
        """On the day clocks go forward, 08:00 local is still 08:00 local (one hour earlier in UTC)."""
        berlin = ZoneInfo("Europe/Berlin")
        assert due(ms("2026-03-29 06:00"), AT, berlin) == ("2026-03-29", ms("2026-03-29 06:00"))
        assert due(ms("2026-03-28 07:00"), AT, berlin) == ("2026-03-28", ms("2026-03-28 07:00"))


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    yield w
    w.close()


def daily(world: World) -> DailySummary:
    return DailySummary(
        world.store, world.poster, at=AT, zone=UTC_ZONE, now_ms=lambda: world.now[0]
    )


def summaries(world: World, channel: str) -> list[Any]:
    return [
        m
        for m in world.slack.posts(channel)
        if (m.metadata or {}).get("event_type") == "clipbot_summary"
    ]


class TestPosting:
    def test_once_a_day_per_channel_across_restarts(self, world: World) -> None:
        """Each subscribed channel gets one summary at the time; runs and restarts add none."""
        world.subscribe("C1", start_ms=ms("2026-03-01 00:00"))
        world.subscribe("C2", start_ms=ms("2026-03-01 00:00"))
        world.now[0] = ms("2026-03-10 07:59")
        assert daily(world).run() == []  # yesterday's was due 23 h ago: skipped, not posted
        world.now[0] = ms("2026-03-10 08:00")
        assert daily(world).run() == ["C1", "C2"]
        world.now[0] = ms("2026-03-10 08:00") + 30_000
        assert daily(world).run() == []
        world.restart()
        assert daily(world).run() == []
        assert [m.metadata for m in summaries(world, "C1")] == [
            {"event_type": "clipbot_summary", "event_payload": {"day": "2026-03-10"}}
        ]
        assert len(summaries(world, "C2")) == 1
        world.now[0] = ms("2026-03-11 08:00")
        assert daily(world).run() == ["C1", "C2"]

    def test_figures_from_the_channel(self, world: World) -> None:
        """The posted summary counts the channel's real cards and triage."""
        world.subscribe("C1", start_ms=ms("2026-03-01 00:00"))
        world.rhombus.add(clip("A", ms("2026-03-09 10:00")), clip("B", ms("2026-03-09 11:00")))
        world.now[0] = ms("2026-03-09 12:00")
        world.poller.poll_once()
        posted = world.store.card("A", "C1")
        assert posted is not None
        world.store.transition(
            posted,
            state=CLAIMED,
            user="U7",
            at_ms=ms("2026-03-09 12:10"),
            action="claim",
            note=None,
        )
        world.now[0] = ms("2026-03-10 08:00")
        daily(world).run()
        (message,) = summaries(world, "C1")
        assert message.text == (
            "Daily summary — 2026-03-10: 2 clips in the last 24 h, 1 open, 1 claimed, 0 resolved, 0 false alarms"
        )
        assert message.blocks[2]["fields"][4] == {
            "type": "mrkdwn",
            "text": "*Median time to claim*\n10m",
        }

    def test_late_start_posts_within_the_hour(self, world: World) -> None:
        """A bot started 59 minutes late posts the day's summary."""
        world.subscribe("C1", start_ms=ms("2026-03-01 00:00"))
        world.now[0] = ms("2026-03-10 08:59")
        assert daily(world).run() == ["C1"]

    def test_later_start_skips_the_day_and_says_so_once(
        self, world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An hour late or more: no summary that day, one log line, and the next day as usual."""
        world.subscribe("C1", start_ms=ms("2026-03-01 00:00"))
        world.now[0] = ms("2026-03-10 09:00")
        with caplog.at_level(logging.WARNING, logger="clipbot.summary"):
            assert daily(world).run() == []
            world.restart()
            world.now[0] += 60_000
            assert daily(world).run() == []
        assert [r.getMessage() for r in caplog.records] == [
            "daily summary for 2026-03-10 in C1 skipped: 60 min late (the bot was not running)"
        ]
        world.now[0] = ms("2026-03-11 08:00")
        assert daily(world).run() == ["C1"]
        assert len(summaries(world, "C1")) == 1

    def test_days_missed_while_down_get_one_catch_up_summary(self, world: World) -> None:
        """A bot down for days posts, once, one summary naming the days it missed since the
        channel's last one, with that many days' figures; the next day is as usual."""
        world.subscribe("C1", start_ms=ms("2026-03-01 00:00"))
        world.now[0] = ms("2026-03-05 08:00")
        assert daily(world).run() == ["C1"]
        world.rhombus.add(clip("A", ms("2026-03-05 09:00")))
        world.now[0] = ms("2026-03-05 09:30")
        world.poller.poll_once()  # then the bot is down until the 10th at noon
        world.now[0] = ms("2026-03-10 12:00")
        assert daily(world).run() == ["C1"]
        world.restart()
        assert daily(world).run() == []
        catch_up = summaries(world, "C1")[-1]
        days = "2026-03-06, 2026-03-07, 2026-03-08, 2026-03-09, 2026-03-10"
        assert catch_up.text == (
            f"Catch-up summary for {days} (clipbot was not running): 1 clip in the last"
            " 124 h, 1 open, 0 claimed, 0 resolved, 0 false alarms"
        )
        assert catch_up.metadata == {
            "event_type": "clipbot_summary",
            "event_payload": {"day": "2026-03-10"},
        }
        world.now[0] = ms("2026-03-11 08:00")
        assert daily(world).run() == ["C1"]
        assert summaries(world, "C1")[-1].text.startswith("Daily summary — 2026-03-11: ")
        assert len(summaries(world, "C1")) == 3

    def test_a_catch_up_names_at_most_a_week(self, world: World) -> None:
        """Down for three weeks: one catch-up naming the last 7 days, oldest first."""
        world.subscribe("C1", start_ms=ms("2026-03-01 00:00"))
        world.now[0] = ms("2026-03-02 08:00")
        assert daily(world).run() == ["C1"]
        world.now[0] = ms("2026-03-23 07:00")
        assert daily(world).run() == ["C1"]
        (_, catch_up) = summaries(world, "C1")
        assert catch_up.text.startswith(
            "Catch-up summary for 2026-03-16, 2026-03-17, 2026-03-18, 2026-03-19, 2026-03-20,"
            " 2026-03-21, 2026-03-22 (clipbot was not running): 0 clips in the last 191 h"
        )

    def test_a_day_missed_by_hours_is_caught_up_late(self, world: World) -> None:
        """A channel that had yesterday's summary gets today's late, as a catch-up, rather than
        none; a channel with no summary yet still starts on time the next day."""
        world.subscribe("C1", start_ms=ms("2026-03-01 00:00"))
        world.now[0] = ms("2026-03-09 08:00")
        assert daily(world).run() == ["C1"]
        world.subscribe("C2", start_ms=ms("2026-03-09 12:00"))
        world.now[0] = ms("2026-03-10 15:00")
        assert daily(world).run() == ["C1"]
        assert summaries(world, "C1")[-1].text.startswith(
            "Catch-up summary for 2026-03-10 (clipbot was not running): 0 clips in the last 31 h"
        )
        assert summaries(world, "C2") == []

    def test_channel_subscribed_after_the_time_starts_tomorrow(self, world: World) -> None:
        """A subscription made after today's time gets its first summary tomorrow."""
        world.subscribe("C1", start_ms=ms("2026-03-10 08:00") + 1)
        world.now[0] = ms("2026-03-10 08:30")
        assert daily(world).run() == []
        world.now[0] = ms("2026-03-11 08:00")
        assert daily(world).run() == ["C1"]

    def test_refused_post_is_retried(self, world: World) -> None:
        """Slack refusing the post (it answered: nothing was posted) means another try next run."""
        world.subscribe("C1", start_ms=ms("2026-03-01 00:00"))
        world.slack.fail("chat.postMessage", Reply.json({"ok": False, "error": "internal_error"}))
        world.now[0] = ms("2026-03-10 08:00")
        assert daily(world).run() == []
        world.now[0] += 30_000
        assert daily(world).run() == ["C1"]
        assert len(summaries(world, "C1")) == 1


class TestInDoubt:
    @pytest.mark.parametrize("after", [False, True])
    def test_crash_around_the_post(self, world: World, after: bool) -> None:
        """Dying just before or just after the post: after a restart, exactly one summary."""
        world.subscribe("C1", start_ms=ms("2026-03-01 00:00"))
        world.now[0] = ms("2026-03-09 08:00")
        daily(world).run()  # yesterday's, found in history before the one in doubt
        world.now[0] = ms("2026-03-10 08:00")
        crash_on(world.poster, "post", 1, after)
        with pytest.raises(Crash):
            daily(world).run()
        world.restart()
        for minutes in (1, 3, 5):
            world.now[0] = ms("2026-03-10 08:00") + minutes * 60_000
            daily(world).run()
        assert [m.metadata["event_payload"]["day"] for m in summaries(world, "C1")] == [
            "2026-03-09",
            "2026-03-10",
        ]
        records = world.store.summaries()
        assert [(r.state, r.ts) for r in records] == [
            (SUMMARY_POSTED, m.ts) for m in summaries(world, "C1")
        ]

    def test_lost_answer_is_found_in_history(self, world: World) -> None:
        """A post whose answer was lost is found by its metadata, not posted again."""
        world.subscribe("C1", start_ms=ms("2026-03-01 00:00"))
        world.now[0] = ms("2026-03-10 08:00")
        real = world.poster.post

        def lost(*args: Any, **kwargs: Any) -> Any:
            real(*args, **kwargs)
            raise OSError("connection reset")

        world.poster.post = lost  # type: ignore[method-assign]
        assert daily(world).run() == []
        world.poster.post = real  # type: ignore[method-assign]
        world.now[0] += 60_000
        daily(world).run()  # too soon to tell from a post still in flight
        world.now[0] += 120_000
        daily(world).run()
        assert len(summaries(world, "C1")) == 1
        assert [r.state for r in world.store.summaries()] == [SUMMARY_POSTED]

    def test_in_doubt_past_the_day_is_settled_skipped(self, world: World) -> None:
        """An interrupted summary still unknown the next day is recorded as not posted."""
        world.subscribe("C1", start_ms=ms("2026-03-01 00:00"))
        world.now[0] = ms("2026-03-10 08:00")
        crash_on(world.poster, "post", 1)
        with pytest.raises(Crash):
            daily(world).run()
        world.restart()
        world.now[0] = ms("2026-03-11 08:00")
        assert daily(world).run() == ["C1"]
        assert [(r.day, r.state) for r in world.store.summaries()] == [
            ("2026-03-10", "skipped"),
            ("2026-03-11", "posted"),
        ]


class TestReportCommand:
    def test_report_shows_the_channels_figures_to_the_caller(self, world: World) -> None:
        """`/clips report 30d` answers ephemerally with the figures of the channel it is used in."""
        world.subscribe("C1", start_ms=ms("2026-03-01 00:00"))
        world.subscribe("C2", start_ms=ms("2026-03-01 00:00"))
        world.rhombus.add(clip("A", ms("2026-03-02 10:00")))
        world.now[0] = ms("2026-03-02 12:00")
        world.poller.poll_once()
        world.rhombus.add(clip("B", ms("2026-03-09 10:00")))
        world.now[0] = ms("2026-03-09 12:00")
        world.poller.poll_once()
        posted = world.store.card("B", "C1")
        assert posted is not None
        world.store.transition(
            posted,
            state=FALSE_ALARM,
            user="U7",
            at_ms=world.now[0],
            action="false_alarm",
            note=None,
        )
        world.now[0] = ms("2026-03-10 08:00")
        bot = Bot(world)
        bot.command("report 30d")
        reply = bot.next_response()
        assert reply["response_type"] == "ephemeral"
        assert reply["text"] == (
            "Report — last 30 days: 2 clips in the last 30 days, 1 open, 0 claimed, 0 resolved, 1 false alarm"
        )
        assert reply["blocks"][3]["text"]["text"] == (
            "*Most false alarms, last 30 days*\n• Front Door — 1"
        )
        bot.command("report", channel="C2")
        assert bot.next_response()["text"] == (
            "Report — last 7 days: 1 clip in the last 7 days, 1 open, 0 claimed, 0 resolved, 0 false alarms"
        )
        assert summaries(world, "C1") == []  # nothing is posted in the channel

    def test_bad_duration_is_named(self, world: World) -> None:
        """A report over something that is not a duration gets a short error and the usage."""
        bot = Bot(world)
        bot.command("report soon")
        assert bot.next_response()["text"].startswith(
            ":warning: `report soon` is not a duration; use a number and a unit, like 90m, 24h or 7d.\n\n*Usage:*"
        )
