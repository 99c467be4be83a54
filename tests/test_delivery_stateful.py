"""Exactly once, explored: a hypothesis state machine drives the poller, the SQLite store, the
fake Slack and the fake Rhombus through clips (odd ones too), subscriptions (some with quiet
hours that keep nothing), mutes, lost answers, 429s, a channel refusing for good, and crashes at
any step followed by a restart on the same file.

After each settle (faults cleared, a few quiet cycles) it checks the promise: every wanted
(channel, clip) posted exactly once, nothing unwanted posted, and the window of the feed read
per cycle no further back than a look-back behind the newest clip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from clipbot.delivery import BROKEN_AFTER
from clipbot.plan import LOOKBACK_MS
from clipbot.quiet import Schedule
from clipbot.stopping import Stop
from clipbot.wiring import slack_retry_handlers
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack
from tests.feed_model import PAGINGS, Paging
from tests.world import T0, World

CHANNELS = ("C1", "C2", "C3")
# Where a cycle can die: (part, method, before or after the call does its work).
CRASH_POINTS = [
    # Every channel's first message, reserved at once; then each channel's next cards.
    ("store", "reserve_each", False),
    ("store", "reserve_each", True),
    ("store", "reserve", False),  # a thread line
    ("store", "release", False),
    ("poster", "post", False),
    ("poster", "post", True),
    ("store", "confirm", False),
    ("store", "advance_subscription", False),
    ("store", "record_success", False),
    ("poster", "find_posted", False),
]
SETTLE_CYCLES = BROKEN_AFTER + 2  # quiet cycles: enough for a refusing channel to be broken
RATELIMITED = Reply.json({"ok": False, "error": "ratelimited"}, 429, **{"Retry-After": "0"})


class Crash(Exception):
    """Stands for the process dying at this point."""


@dataclass
class Period:
    """One subscription of a channel: clips after `start_ms` (or at it, not in `start_uuids`)."""

    start_ms: int
    start_uuids: frozenset[str]
    quiet: bool = False  # quiet hours that keep none of the clips (a day they are not saved on)

    def wants(self, uuid: str, created: int) -> bool:
        return not self.quiet and (
            created > self.start_ms or (created == self.start_ms and uuid not in self.start_uuids)
        )


@dataclass
class Model:
    clips: dict[str, int] = field(default_factory=dict)  # valid clips: uuid -> createdAtMs
    odd: int = 0
    periods: dict[str, list[Period]] = field(default_factory=dict)
    subscribed: set[str] = field(default_factory=set)
    refusing: set[str] = field(default_factory=set)
    newest: int = T0
    mutes: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # [start, until)

    def muted(self, channel: str, created: int) -> bool:
        return any(start <= created < until for start, until in self.mutes.get(channel, []))

    def wanted_now(self, channel: str) -> set[str]:
        period = self.periods[channel][-1]
        return {
            u for u, at in self.clips.items() if period.wants(u, at) and not self.muted(channel, at)
        }

    def ever_wanted(self, channel: str, uuid: str) -> bool:
        at = self.clips.get(uuid)
        return at is not None and any(p.wants(uuid, at) for p in self.periods.get(channel, []))


def crash_on(target: Any, name: str, call: int, after: bool) -> None:
    """Makes the `call`-th call of target.name die, before (or after) doing its work."""
    real: Callable[..., Any] = getattr(target, name)
    count = [0]
    lock = threading.Lock()

    def dying(*args: Any, **kwargs: Any) -> Any:
        with lock:
            count[0] += 1
            this = count[0]
        if this == call and not after:
            raise Crash(name)
        result = real(*args, **kwargs)
        if this == call:
            raise Crash(name)
        return result

    setattr(target, name, dying)


class DeliveryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="clipbot-stateful-"))
        self.model = Model()
        self.serial = 0
        self.world: World | None = None

    # Pages of 10 or more: a timestamp cursor cannot page past more clips saved in one
    # millisecond than a page holds (README, Guarantees); tie groups here stay under 10.
    @initialize(paging=st.sampled_from(PAGINGS), page=st.sampled_from([10, 100]))
    def start(self, paging: Paging, page: int) -> None:
        self.rhombus = FakeRhombus(paging=paging).start()
        self.slack = FakeSlack().start()
        self.world = World(
            self.rhombus, self.slack, self.folder / "clipbot.db", page_size=page, digest_threshold=3
        )
        self._instant_retries()

    def _instant_retries(self) -> None:
        # 429 with Retry-After: 0 is retried by the same handler as in production, at once.
        assert self.world is not None
        self.world.web.retry_handlers = slack_retry_handlers(Stop())

    def teardown(self) -> None:
        if self.world is not None:
            self.world.close()
            self.rhombus.stop()
            self.slack.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the feed -------------------------------------------------------------------------------

    @rule(count=st.integers(1, 6), tie=st.booleans(), late=st.integers(0, 60_000))
    def add_clips(self, count: int, tie: bool, late: int) -> None:
        """New clips, some sharing a millisecond; the first may arrive late (an older time)."""
        records, at = [], 0
        for i in range(count):
            self.serial += 1
            if i == 0 and late and self.model.newest - late > T0:
                at = self.model.newest - late
            elif not (tie and i):
                at = self.model.newest + 1 + self.serial % 5
            uuid = f"K{self.serial:04d}"
            records.append(clip(uuid, at))
            self.model.clips[uuid] = at
            self.model.newest = max(self.model.newest, at)
        self.rhombus.add(*records)

    @rule(missing=st.sampled_from(["createdAtMs", "uuid"]))
    def add_odd_record(self, missing: str) -> None:
        """A record that cannot be placed in time or identified: skipped, never followed."""
        self.serial += 1
        at = self.model.newest - 1 - self.serial % 97  # apart from other records' times
        record = clip(f"ODD{self.serial:04d}", at)
        if missing == "createdAtMs":
            record["createdAtMs"], record["_filedAtMs"] = None, at
        else:
            del record["uuid"]
        self.model.odd += 1
        self.rhombus.add(record)

    # -- subscriptions --------------------------------------------------------------------------

    @rule(channel=st.sampled_from(CHANNELS), quiet=st.booleans())
    def subscribe(self, channel: str, quiet: bool) -> None:
        """Subscribes at the feed's newest clip, as /clips subscribe does; `quiet`: with
        `days:wed`, when no clip here is saved (they all are on Monday 2025-11-24, UTC)."""
        assert self.world is not None
        start = max(self.model.clips.values(), default=T0 - 1)
        at_start = frozenset(u for u, at in self.model.clips.items() if at == start)
        self.world.subscribe(
            channel,
            start_ms=start,
            start_uuids=tuple(sorted(at_start)),
            schedule=Schedule(days=frozenset({2})) if quiet else None,
        )
        self.model.periods.setdefault(channel, []).append(Period(start, at_start, quiet))
        self.model.subscribed.add(channel)

    @rule(channel=st.sampled_from(CHANNELS), length=st.integers(1, 40))
    def mute(self, channel: str, length: int) -> None:
        """The channel mutes the camera every clip comes from, from now for `length` ms."""
        assert self.world is not None
        start = self.model.newest + 1
        self.world.store.mute(channel, "door", start, start + length, "U1")
        mutes = self.model.mutes.setdefault(channel, [])
        # Muting again while a mute of the camera runs moves that mute's end (README, Mutes).
        running = next((i for i, (s, u) in enumerate(mutes) if s <= start < u), None)
        if running is None:
            mutes.append((start, start + length))
        else:
            mutes[running] = (mutes[running][0], start + length)

    @precondition(lambda self: bool(self.model.subscribed))
    @rule(data=st.data())
    def unsubscribe(self, data: st.DataObject) -> None:
        assert self.world is not None
        channel = data.draw(st.sampled_from(sorted(self.model.subscribed)))
        self.world.store.unsubscribe(channel)
        self.model.subscribed.discard(channel)

    # -- Slack's behaviour ------------------------------------------------------------------------

    @rule(count=st.integers(1, 3))
    def lose_answers(self, count: int) -> None:
        """Slack posts, then the connection closes before the answer arrives."""
        self.slack.lose_answers("chat.postMessage", count)

    @rule(count=st.integers(1, 7))
    def rate_limit(self, count: int) -> None:
        """Slack answers 429 (more than the client retries, sometimes)."""
        self.slack.fail("chat.postMessage", *[RATELIMITED] * count)

    @rule(channel=st.sampled_from(CHANNELS))
    def refuse_channel(self, channel: str) -> None:
        """The channel refuses every post from now on, with an error outside the known four."""
        self.slack.channel(channel, error="restricted_action")
        self.model.refusing.add(channel)

    # -- the process ----------------------------------------------------------------------------

    @rule()
    def cycle(self) -> None:
        assert self.world is not None
        self.world.poller.poll_once()

    @rule(point=st.sampled_from(CRASH_POINTS), call=st.integers(1, 3))
    def crash_and_restart(self, point: tuple[str, str, bool], call: int) -> None:
        """The process dies at this step of a cycle; a new one starts on the same file."""
        assert self.world is not None
        part, method, after = point
        crash_on(getattr(self.world, part), method, call, after)
        with contextlib.suppress(Crash):
            self.world.poller.poll_once()
        self.world.restart()
        self._instant_retries()

    @rule()
    def settle(self) -> None:
        """Faults stop; a few quiet cycles; then the promise must hold."""
        assert self.world is not None
        self.slack.calm()
        windows = [self.world.poller.poll_once().window_ms for _ in range(SETTLE_CYCLES)]
        self.check(windows[-1])

    def check(self, window_ms: int | None) -> None:
        assert self.world is not None
        model, store = self.model, self.world.store
        assert store.in_doubt() == [] and store.replies_in_doubt() == []
        for channel in CHANNELS:
            posted = self.world.posted_uuids(channel)
            assert len(posted) == len(set(posted)), f"posted twice in {channel}: {posted}"
            unwanted = [u for u in posted if not model.ever_wanted(channel, u)]
            assert unwanted == [], f"{channel} got clips it never wanted: {unwanted}"
            muted = [u for u in posted if model.muted(channel, model.clips[u])]
            assert muted == [], f"{channel} got clips saved while muted: {muted}"
            if channel not in model.subscribed:
                continue
            missing = model.wanted_now(channel) - set(posted)
            if channel in model.refusing:
                sub = store.subscription(channel)
                assert not missing or (sub is not None and sub.broken == "restricted_action")
            else:
                assert missing == set(), f"{channel} never got {sorted(missing)}"
        if window_ms is not None and model.subscribed - model.refusing:
            # Caught up: a cycle reads from a look-back behind the newest clip, never further.
            floor = model.newest if model.clips else T0 - 1
            assert window_ms >= floor - LOOKBACK_MS, (window_ms, floor)

    @invariant()
    def no_message_twice(self) -> None:
        """At every step, not only after a settle: no clip is ever in a channel twice."""
        if self.world is None:
            return
        for channel in CHANNELS:
            posted = self.world.posted_uuids(channel)
            assert len(posted) == len(set(posted)), f"posted twice in {channel}: {posted}"


DeliveryMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("CLIPBOT_STATEFUL_EXAMPLES", "60")),  # about 20-40 s
    stateful_step_count=40,
    deadline=None,  # real sockets and SQLite: no per-step deadline
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestDelivery = DeliveryMachine.TestCase
