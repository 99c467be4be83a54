"""The pure planning step under quiet hours and mutes, as a state machine: however clips,
mutes, unmutes and poll cycles interleave, each clip reaches a channel at most once, a held
clip never does, and every clip the channel's schedule and mutes let through does."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from clipbot import plan
from clipbot.quiet import Mute, Schedule
from clipbot.records import Clip
from clipbot.state import Subscription

BERLIN = ZoneInfo("Europe/Berlin")
T0 = 1_742_000_000_000  # 2025-03-15, two weeks before Berlin's clocks spring forward
CAMERAS = {"dock": ("Loading Dock",), "door": ("Front Door",)}
MINUTE = 60_000


class QuietPlanning(RuleBasedStateMachine):
    """One channel, its schedule, its mutes and the feed, planned cycle after cycle."""

    @initialize(
        start=st.none() | st.integers(0, 1439),
        length=st.integers(1, 1439),
        days=st.frozensets(st.integers(0, 6), min_size=1),
    )
    def subscribe(self, start: int | None, length: int, days: frozenset[int]) -> None:
        hours = (None, None) if start is None else (start, (start + length) % 1440 or 1440)
        self.sub = Subscription("C1", "T1", "U1", T0, T0, schedule=Schedule(*hours, days))
        self.now = T0
        self.clips: list[Clip] = []
        self.names: dict[str, tuple[str, ...]] = {}
        self.mutes: list[Mute] = []
        self.delivered: list[str] = []
        self.held: set[str] = set()
        self.decided: dict[str, str] = {}  # clip → where it belongs, judged when first read
        self.touched: set[str] = set()  # read clips saved at the very moment of a mute change

    @rule(gap=st.integers(0, 36 * 60), camera=st.sampled_from(sorted(CAMERAS)))
    def clip_saved(self, gap: int, camera: str) -> None:
        """Time passes and a clip is saved (several may share one createdAtMs)."""
        self.now += gap * MINUTE
        uuid = f"K{len(self.clips)}"
        self.clips.append(Clip(uuid, created_at_ms=self.now))
        self.names[uuid] = CAMERAS[camera]

    @rule(camera=st.sampled_from(sorted(CAMERAS)), minutes=st.integers(1, 7 * 24 * 60))
    def mute(self, camera: str, minutes: int) -> None:
        """A mute from now; muting a muted camera again moves that mute's end."""
        self.touch()
        running = [m for m in self.mutes if m.camera == camera and m.until_ms > self.now]
        until = self.now + minutes * MINUTE
        if running:
            old = running[0]
            self.mutes[self.mutes.index(old)] = Mute(
                old.id, "C1", camera, old.start_ms, until, "U1"
            )
        else:
            self.mutes.append(Mute(len(self.mutes), "C1", camera, self.now, until, "U1"))

    @rule()
    def unmute(self) -> None:
        self.touch()
        self.mutes = [
            Mute(m.id, m.channel_id, m.camera, m.start_ms, min(m.until_ms, self.now), "U1")
            for m in self.mutes
        ]

    @rule()
    def poll(self) -> None:
        """One cycle: read from the window, plan, deliver everything, advance the position."""
        since = plan.window_start([self.sub])
        read = [c for c in self.clips if c.created_at_ms >= since]
        for clip in read:
            self.decided.setdefault(clip.uuid, self.judge(clip))
        planned = plan.plan(
            [self.sub],
            read,
            self.names,
            {"C1": set(self.delivered) | self.held},  # as the poller reads them from the store
            5,
            zone=BERLIN,
            mutes=self.mutes,
        )
        for batch in planned.batches:
            self.delivered += [c.uuid for c in batch.clips]
        self.held |= {c.uuid for _, c in planned.held}
        newest = read[-1].created_at_ms if read else None
        moved = plan.advance([self.sub], newest, {})
        if "C1" in moved:
            self.sub = Subscription(
                "C1", "T1", "U1", T0, T0, schedule=self.sub.schedule, position_ms=moved["C1"]
            )

    @invariant()
    def each_clip_once_and_never_held(self) -> None:
        assert len(self.delivered) == len(set(self.delivered))
        assert not self.held & set(self.delivered)

    def touch(self) -> None:
        """A mute changes now: clips already read that were saved this very millisecond may
        be judged differently from now on (they keep where they went)."""
        self.touched |= {c.uuid for c in self.clips if c.created_at_ms == self.now} & set(
            self.decided
        )

    def judge(self, clip: Clip) -> str:
        """Where a clip belongs by its createdAtMs, the schedule and the mutes as they are now."""
        assert self.sub.schedule is not None
        if not self.sub.schedule.keeps(clip.created_at_ms, BERLIN):
            return "none"
        muted = any(m.holds(clip.created_at_ms, self.names[clip.uuid]) for m in self.mutes)
        return "held" if muted else "delivered"

    @invariant()
    def every_clip_read_went_where_it_belongs(self) -> None:
        """Delivered when inside the schedule and no mute's [start, until) held it, held when a
        mute did, else nowhere — as judged when first read, and never changed after, whatever
        mutes and unmutes came later (one may start or end at a read clip's very createdAtMs)."""
        for uuid, expected in self.decided.items():
            actual = (
                "delivered" if uuid in self.delivered else "held" if uuid in self.held else "none"
            )
            assert actual == expected, (uuid, expected, actual)

    @invariant()
    def a_mute_only_changes_what_is_saved_from_now_on(self) -> None:
        """Judged again with today's mutes, a read clip lands where it did: a mute or unmute
        changes only what is saved from its moment on."""
        for clip in self.clips:
            first = self.decided.get(clip.uuid)
            if first is not None and clip.uuid not in self.touched:
                assert self.judge(clip) == first, clip


QuietPlanning.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
test_quiet_planning = QuietPlanning.TestCase
