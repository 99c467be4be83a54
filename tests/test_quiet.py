"""Quiet hours and mutes: the grammar, the pure filters (DST edges, windows across midnight),
and the poll cycle holding clips back exactly by their createdAtMs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clipbot.query import MuteQuery, ParseError, SubscribeQuery, UnmuteQuery, parse
from clipbot.quiet import ALL_DAYS, Mute, Schedule, ScheduleError, days_in_words, schedule, sift
from clipbot.records import Clip
from tests.bolt import Bot
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.world import T0, World

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = frozenset(range(5))


def at(text: str, zone: ZoneInfo = BERLIN) -> int:
    """Epoch ms of a wall-clock time `YYYY-MM-DD HH:MM` in `zone` (first of a repeated hour)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=zone).timestamp() * 1000)


class TestGrammar:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("subscribe hours:18:00-07:00", SubscribeQuery(schedule=Schedule(1080, 420))),
            ("subscribe days:mon-fri", SubscribeQuery(schedule=Schedule(days=WEEKDAYS))),
            (
                "subscribe hours:9:30-17:00 days:sat,sun camera:dock",
                SubscribeQuery(camera="dock", schedule=Schedule(570, 1020, frozenset({5, 6}))),
            ),
            (
                "subscribe days:fri-mon",
                SubscribeQuery(schedule=Schedule(days=frozenset({4, 5, 6, 0}))),
            ),
            (
                "subscribe hours:22:00-24:00 days:Monday",
                SubscribeQuery(schedule=Schedule(1320, 1440, frozenset({0}))),
            ),
            ("mute camera:dock for:2h", MuteQuery("dock", 7_200_000)),
            ('mute camera:"front door" for:7d', MuteQuery("front door", 604_800_000)),
            ("unmute", UnmuteQuery()),
            ("unmute camera:Dock", UnmuteQuery("Dock")),
        ],
    )
    def test_valid(self, text: str, expected: object) -> None:
        """Schedules and mutes parse into their typed commands."""
        assert parse(text) == expected

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (
                "subscribe hours:25:00-99",
                "`hours:25:00-99` is not a time window; use HH:MM-HH:MM in 24-hour time, like hours:18:00-07:00 (a window may cross midnight).",
            ),
            (
                "subscribe hours:18:60-07:00",
                "`hours:18:60-07:00` is not a time window; use HH:MM-HH:MM in 24-hour time, like hours:18:00-07:00 (a window may cross midnight).",
            ),
            (
                "subscribe hours:08:00-08:00",
                "`hours:08:00-08:00` starts and ends at the same time; leave hours: out to take clips all day.",
            ),
            (
                "subscribe days:weekdays",
                "`days:weekdays` is not a set of days; use day names like days:mon-fri or days:sat,sun.",
            ),
            (
                "subscribe days:mon,",
                "`days:mon,` is not a set of days; use day names like days:mon-fri or days:sat,sun.",
            ),
            (
                "mute for:2h",
                "`mute` needs a camera and how long: /clips mute camera:NAME for:2h (at most 7d).",
            ),
            (
                "mute",
                "`mute` needs a camera and how long: /clips mute camera:NAME for:2h (at most 7d).",
            ),
            (
                "mute camera:dock",
                "`mute` needs a camera and how long: /clips mute camera:NAME for:2h (at most 7d).",
            ),
            (
                "mute camera:dock for:9y",
                "`for:9y` is out of range; give a duration from 1s to 7d.",
            ),
            (
                "mute camera:dock for:8d",
                "`for:8d` is out of range; give a duration from 1s to 7d.",
            ),
            (
                "mute camera:dock for:soon",
                "`for:soon` is not a duration; use a number and a unit, like 90m, 24h or 7d.",
            ),
            ("mute camera:dock for:1h dock", "`mute` takes camera:NAME and for:DURATION."),
            ("unmute for:1h", "`for:` is not a filter here; use `camera:`."),
        ],
    )
    def test_bad_input_named(self, text: str, message: str) -> None:
        """Bad hours, days and mutes get a sentence naming the bad token."""
        assert parse(text) == ParseError(message)


class TestSchedule:
    def test_window_crossing_midnight_belongs_to_its_first_day(self) -> None:
        """18:00-07:00 on weekdays: Friday night into Saturday morning counts, Sunday night
        into Monday does not, Monday daytime does not."""
        night = Schedule(1080, 420, WEEKDAYS)
        cases = {
            "2025-06-06 18:00": True,  # Friday evening, the window opens
            "2025-06-07 06:59": True,  # Saturday morning, still Friday's night
            "2025-06-07 07:00": False,  # the window has closed
            "2025-06-07 18:00": False,  # Saturday evening: not a listed day
            "2025-06-09 02:00": False,  # Monday 02:00 belongs to Sunday's night
            "2025-06-09 12:00": False,  # Monday daytime
            "2025-06-09 23:59": True,
        }
        assert {when: night.keeps(at(when), BERLIN) for when in cases} == cases

    def test_spring_forward(self) -> None:
        """On the night clocks jump from 02:00 to 03:00, a 02:00-04:00 window holds only the one
        real hour, and 01:59 is still outside: wall-clock time, not UTC offsets."""
        window = Schedule(120, 240)
        utc = datetime.fromisoformat("2025-03-30T00:59:00+00:00")  # 01:59 in Berlin (CET)
        start = int(utc.timestamp() * 1000)
        minutes = [start + m * 60_000 for m in range(0, 130)]
        inside = [m for m in minutes if window.keeps(m, BERLIN)]
        assert len(inside) == 60  # 03:00 to 03:59 CEST; 02:xx never happens
        assert (
            datetime.fromtimestamp(inside[0] / 1000, BERLIN).isoformat()
            == "2025-03-30T03:00:00+02:00"
        )

    def test_fall_back(self) -> None:
        """On the night 02:00-03:00 happens twice, a 02:00-03:00 window keeps both hours."""
        window = Schedule(120, 180)
        start = int(datetime.fromisoformat("2025-10-26T00:00:00+00:00").timestamp() * 1000)
        inside = [m for m in range(0, 180) if window.keeps(start + m * 60_000, BERLIN)]
        assert (len(inside), inside[0], inside[-1]) == (120, 0, 119)

    def test_same_instant_in_two_zones(self) -> None:
        """The zone decides: 23:30 in Berlin is 17:30 in New York, outside an evening window."""
        evening = Schedule(1200, 1440)
        instant = at("2025-01-15 23:30")
        assert (evening.keeps(instant, BERLIN), evening.keeps(instant, NEW_YORK)) == (True, False)

    def test_in_words(self) -> None:
        """Schedules read back in words, and as stored."""
        night = schedule("18:00-07:00", "mon-fri")
        assert night is not None
        assert (night.describe(), night.hours_text, night.days_text) == (
            "between 18:00 and 07:00 (overnight), Monday to Friday",
            "18:00-07:00",
            "mon,tue,wed,thu,fri",
        )
        assert [
            days_in_words(frozenset({5, 6})),
            days_in_words(frozenset({0, 2, 4})),
            days_in_words(frozenset({4, 5, 6, 0})),
            days_in_words(ALL_DAYS),
        ] == [
            "Saturday and Sunday",
            "Monday, Wednesday and Friday",
            "Friday to Monday",
            "every day",
        ]
        assert schedule(None, None) is None

    def test_round_trip(self) -> None:
        """What is stored reads back as the same schedule."""
        night = Schedule(1080, 420, frozenset({5, 6}))
        assert schedule(night.hours_text, night.days_text) == night
        with pytest.raises(ScheduleError):
            schedule("7-8", None)

    @settings(max_examples=200)
    @given(
        start=st.integers(0, 1439),
        end=st.integers(1, 1440),
        ms=st.integers(at("2024-01-01 00:00"), at("2026-12-31 00:00")),
    )
    def test_overnight_is_the_complement_of_the_day(self, start: int, end: int, ms: int) -> None:
        """Every day of the week listed: A-B and B-A split the day between them exactly."""
        if start == end % 1440:
            return
        day, night = Schedule(start, end), Schedule(end % 1440, start)
        assert day.keeps(ms, BERLIN) != night.keeps(ms, BERLIN)


class TestMutes:
    MUTE = Mute(1, "C1", "dock", start_ms=1_000, until_ms=2_000, created_by="U1")

    def test_holds_by_created_at(self) -> None:
        """A mute holds clips saved in [start, until) from matching cameras, nothing else."""
        dock, door = ("Loading Dock",), ("Front Door",)
        assert [
            self.MUTE.holds(999, dock),
            self.MUTE.holds(1_000, dock),
            self.MUTE.holds(1_999, dock),
            self.MUTE.holds(2_000, dock),  # saved as the mute ended: posted
            self.MUTE.holds(1_500, door),
        ] == [False, True, True, False, False]

    def test_sift(self) -> None:
        """Quiet hours drop clips, a mute of this channel holds them; other channels' do not."""
        clips = [Clip("A", created_at_ms=1_500), Clip("B", created_at_ms=2_500)]
        names = {"A": ("Loading Dock",), "B": ("Loading Dock",)}
        other = Mute(2, "C2", "dock", 0, 10_000, "U1")
        assert sift("C1", None, clips, names, BERLIN, [self.MUTE, other]) == (
            [clips[1]],
            [(self.MUTE, clips[0])],
        )
        closed = Schedule(days=frozenset())
        assert sift("C1", closed, clips, names, BERLIN, []) == ([], [])


NOW = T0 + 3_600_000  # the worlds' clock: 2025-11-24 17:00 UTC, a Monday
DOCK = ("CAM0000000000000000002",)


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    yield w
    w.close()


class TestCycle:
    def test_quiet_hours_keep_only_clips_saved_inside(self, world: World) -> None:
        """16:00-16:30 UTC on Mondays: the clip saved at 16:10 is posted, the ones at 15:59 and
        16:30 never are, in this cycle or the next (the position moves past them)."""
        world.subscribe("C1", schedule=Schedule(960, 990, frozenset({0})))
        world.rhombus.add(
            clip("EARLY", at("2025-11-24 15:59", ZoneInfo("UTC"))),
            clip("IN", at("2025-11-24 16:10", ZoneInfo("UTC"))),
            clip("LATE", at("2025-11-24 16:30", ZoneInfo("UTC"))),
        )
        world.poller.poll_once()
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["IN"]

    def test_mute_holds_back_and_counts_once(self, world: World) -> None:
        """A muted camera's clips are not posted but counted, once however often they are read;
        other cameras' clips go on; a clip saved as the mute ended is posted in the same cycle."""
        world.subscribe("C1")
        mute = world.store.mute("C1", "dock", T0 + 10, T0 + 300, "U1")
        world.rhombus.add(
            clip("HELD1", T0 + 20, cameras=DOCK),
            clip("DOOR", T0 + 30),
            clip("HELD2", T0 + 299, cameras=DOCK),
            clip("AFTER", T0 + 300, cameras=DOCK),
            clip("BEFORE", T0 + 5, cameras=DOCK),
        )
        world.poller.poll_once()
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["BEFORE", "DOOR", "AFTER"]
        assert world.store.held_count(mute.id) == 2

    def test_unmute_does_not_release_held_clips(self, world: World) -> None:
        """Clips held while muted stay held after the unmute, even when read again."""
        world.subscribe("C1")
        world.store.mute("C1", "dock", T0 + 10, T0 + 86_400_000, "U1")
        world.rhombus.add(clip("HELD", T0 + 20, cameras=DOCK))
        world.poller.poll_once()
        world.store.unmute("C1", None, T0 + 100)
        world.rhombus.add(clip("NEXT", T0 + 200, cameras=DOCK))
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["NEXT"]

    def test_held_stays_held_when_the_unmute_lands_on_it(self, world: World) -> None:
        """An unmute at the very millisecond a held clip was saved (or before a clip from a
        clock running ahead) ends the mute before it; read again, it is still not posted."""
        world.subscribe("C1")
        mute = world.store.mute("C1", "dock", T0 + 10, T0 + 86_400_000, "U1")
        world.rhombus.add(clip("EDGE", T0 + 50, cameras=DOCK))
        world.poller.poll_once()
        world.store.unmute("C1", None, T0 + 50)
        world.poller.poll_once()
        assert (world.posted_uuids("C1"), world.store.held_count(mute.id)) == ([], 1)

    def test_posted_clip_not_counted_by_a_later_mute(self, world: World) -> None:
        """A mute that begins at the very millisecond of a clip already posted does not count
        it as held when the clip is read again."""
        world.subscribe("C1")
        world.rhombus.add(clip("POSTED", T0 + 50, cameras=DOCK))
        world.poller.poll_once()
        mute = world.store.mute("C1", "dock", T0 + 50, T0 + 86_400_000, "U1")
        world.poller.poll_once()
        assert (world.posted_uuids("C1"), world.store.held_count(mute.id)) == (["POSTED"], 0)

    def test_other_channels_unaffected(self, world: World) -> None:
        """A mute is per channel: the same camera still reaches another channel."""
        world.subscribe("C1")
        world.subscribe("C2")
        world.store.mute("C1", "dock", T0, T0 + 86_400_000, "U1")
        world.rhombus.add(clip("A", T0 + 20, cameras=DOCK))
        world.poller.poll_once()
        assert (world.posted_uuids("C1"), world.posted_uuids("C2")) == ([], ["A"])


class TestCommands:
    @pytest.fixture
    def bot(self, world: World) -> Bot:
        bot = Bot(world)
        bot.deps.zone = BERLIN
        world.rhombus.add(clip("OLD", T0))
        return bot

    def test_subscribe_says_the_schedule_in_words(self, bot: Bot, world: World) -> None:
        """The reply, the announcement and the stored subscription carry the schedule."""
        bot.command("subscribe hours:18:00-07:00 days:mon-fri")
        assert bot.next_response()["text"] == (
            "Subscribed <#C1> to new clips from all cameras, only clips saved between 18:00 and "
            "07:00 (overnight), Monday to Friday. Times are Europe/Berlin time. Clips saved "
            "before now are not posted."
        )
        stored = world.store.subscription("C1")
        assert stored is not None and stored.schedule == Schedule(1080, 420, WEEKDAYS)
        bot.command("subscriptions")
        assert "only clips saved between 18:00 and 07:00 (overnight), Monday to Friday" in str(
            bot.next_response()
        )

    def test_bad_hours_refused(self, bot: Bot) -> None:
        """`hours:25:00-99` is refused, naming the token."""
        bot.command("subscribe hours:25:00-99")
        reply = bot.next_response()
        assert reply["text"].startswith(
            ":warning: `hours:25:00-99` is not a time window; use HH:MM-HH:MM in 24-hour time"
        )

    def test_mute_status_unmute(self, bot: Bot, world: World) -> None:
        """mute says until when; status shows the running mute and what it held; unmute says
        how many were held, with a since: listing; both are in the audit trail."""
        world.subscribe("C1")
        bot.command("mute camera:dock for:2h", user="U5")
        until = f"<!date^{(NOW + 7_200_000) // 1000}^{{date_short_pretty}} at {{time}}|2025-11-24 19:00 UTC>"
        assert bot.next_response()["text"] == (
            f"Muted cameras matching “dock” in <#C1> until {until}: their clips are held back, "
            "not posted, and counted. `/clips unmute camera:dock` ends it sooner."
        )
        assert (
            world.slack.posts("C1")[-1].text
            == f"<@U5> muted cameras matching “dock” here until {until}."
        )
        (mute,) = world.store.mutes(NOW)
        world.store.hold([(mute.id, "H1", NOW + 1), (mute.id, "H2", NOW + 2)])
        world.now[0] = NOW + 3_000_000  # 50 minutes later
        bot.command("status")
        status = bot.next_response()["text"].splitlines()
        assert status[-3:-1] == [
            ":mute: *Muted*",
            f"• <#C1> muted until {until}: cameras matching “dock”: 2 clips held back — "
            "`/clips camera:dock since:50m` lists them",
        ]
        bot.command("unmute", user="U5")
        assert bot.next_response()["text"] == (
            "Unmuted in <#C1>:\n• cameras matching “dock”: 2 clips held back — "
            "`/clips camera:dock since:50m` lists them"
        )
        bot.command("unmute")
        assert bot.next_response()["text"] == (
            "Nothing is muted in <#C1>. `/clips status` lists the running mutes."
        )
        assert [(e.kind.value, e.user_id, e.details) for e in reversed(world.store.audit(0))] == [
            ("mute", "U5", "cameras matching “dock” for 2 h"),
            ("unmute", "U5", "cameras matching “dock”"),
        ]

    def test_mute_again_extends(self, bot: Bot, world: World) -> None:
        """Muting a muted camera again moves its end; it stays one mute with one count."""
        world.subscribe("C1")
        bot.command("mute camera:dock for:2h")
        bot.next_response()
        bot.command("mute camera:DOCK for:30m")
        bot.next_response()
        (mute,) = world.store.mutes(NOW)
        assert (mute.camera, mute.until_ms) == ("dock", NOW + 1_800_000)

    def test_admins_only_when_set(self, world: World) -> None:
        """With CLIPBOT_ADMINS set, others are refused mute and unmute; nothing is muted."""
        world.subscribe("C1")
        bot = Bot(world, admins=frozenset({"UADMIN"}))
        bot.command("mute camera:dock for:2h", user="U2")
        assert bot.next_response()["text"] == (
            "Sorry, only <@UADMIN> can change mutes here. Ask one of them to do it."
        )
        bot.command("unmute", user="U2")
        assert bot.next_response()["text"].startswith("Sorry, only <@UADMIN> can change mutes")
        assert world.store.mutes(0) == []

    def test_mute_needs_a_subscription(self, bot: Bot, world: World) -> None:
        """A channel without a subscription has nothing to mute."""
        bot.command("mute camera:dock for:2h", channel="C9")
        assert bot.next_response()["text"] == (
            "This channel has no subscription, so there is nothing to mute. Subscribe it first "
            "with `/clips subscribe`."
        )
        assert world.store.mutes(0) == []
