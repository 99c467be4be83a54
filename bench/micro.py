"""8. Small figures: the feed walk under every paging reading, the idle cycle in isolation, the
card and /clips builders, and what the gate adds before an acknowledgement."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.report import Figure, Result
from clipbot import blocks
from clipbot.config import Secret
from clipbot.query import parse
from clipbot.rhombus import RhombusAuth, RhombusClient
from clipbot.state import Card
from tests.fakes.rhombus import API_KEY, FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.feed_model import PAGINGS, Paging
from tests.world import T0, World

FEED = 5_000
BEHIND = 1_000
RESULT = Result(8, "Micro-benchmarks", "Medians of repeated runs, loopback fakes without latency.")


def timed(run: Callable[[], object], repeat: int = 5) -> float:
    """Median seconds of `repeat` runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def feed_catch_up() -> None:
    """Every reading of getSavedClipsV2 paging (order, bound, lastEvaluatedTimestampMs)."""
    for paging in PAGINGS:
        requests, seconds = catch_up(paging)
        RESULT.add(
            Figure(
                f"feed walk: newest {BEHIND:,} of {FEED:,} clips ({paging}), {requests} requests",
                seconds * 1000,
                "ms",
                f"{BEHIND // 100 + 2} requests or fewer",
                f"a full-history walk: {FEED // 100} requests",
                requests / (FEED // 100),
                requests <= BEHIND // 100 + 2,
            )
        )


def catch_up(paging: Paging) -> tuple[int, float]:
    """Requests and seconds to read the newest BEHIND clips of a FEED-clip feed."""
    fake = FakeRhombus(paging=paging).start()
    fake.add(*(clip(f"C{i:05d}", T0 + i * 1000) for i in range(FEED)))
    with httpx.Client() as http:
        client = RhombusClient(
            http,
            RhombusAuth(Secret(API_KEY)),
            fake.api_url,
            fake.media_url,
            now_ms=lambda: T0 + FEED * 1000,
        )
        client.clips_since(T0 + FEED * 1000)  # learn the order once, as a running bot has
        before = len(fake.requests)
        seconds = timed(lambda: client.clips_since(T0 + (FEED - BEHIND) * 1000), repeat=3)
        requests = (len(fake.requests) - before) // 3
    fake.stop()
    return requests, seconds


def idle_cycle() -> None:
    rhombus, slack = FakeRhombus().start(), FakeSlack().start()
    rhombus.add(*(clip(f"C{i:04d}", T0 + i * 10_000) for i in range(500)))
    with tempfile.TemporaryDirectory() as tmp:
        world = World(rhombus, slack, Path(tmp) / "b.db")
        for n in range(10):
            world.subscribe(f"C{n}", start_ms=T0 + 500 * 10_000)
        world.poller.poll_once()
        before = len(rhombus.requests)
        seconds = timed(world.poller.poll_once, repeat=20)
        requests = (len(rhombus.requests) - before) / 20
        world.close()
    rhombus.stop()
    slack.stop()
    RESULT.add(
        Figure(
            f"idle poll cycle, 10 subscriptions, {requests:.0f} request(s)",
            seconds * 1000,
            "ms",
            "",
            "the default 30 s poll interval",
            seconds / 30,
        )
    )


def builders() -> None:
    card = Card(clip=clip_record(), channel_id="C1", posted_at_ms=T0, camera_names=("Front Door",))
    per_card = timed(lambda: [blocks.clip_card(card, "https://c") for _ in range(1000)]) / 1000
    per_parse = (
        timed(lambda: [parse('20 camera:"front door" since:24h forklift') for _ in range(1000)])
        / 1000
    )
    RESULT.add(Figure("clip_card built", per_card * 1e6, "µs"))
    RESULT.add(
        Figure(
            "/clips parse",
            per_parse * 1e6,
            "µs",
            "",
            "Slack's acknowledgement budget, 3,000,000 µs",
            per_parse * 1e6 / 3e6,
        )
    )


def gate() -> None:
    """A command in-process: acknowledged (the listener only calls ack()), then answered (the
    delivery key written to SQLite, a users.info lookup, cached after the first, and the help
    sent to its response_url), each timed to its end."""
    from tests.bolt import Bot

    rhombus, slack = FakeRhombus().start(), FakeSlack().start()
    with tempfile.TemporaryDirectory() as tmp:
        world = World(rhombus, slack, Path(tmp) / "g.db")
        bot = Bot(world)
        keys = iter(range(10**9))
        note = timed(
            lambda: world.store.first_delivery(f"k{next(keys)}", T0, forget_before_ms=0), 50
        )
        users = iter(range(10**9))
        acked = timed(lambda: bot.command("help", user=f"U{next(users)}"), repeat=50)
        bot.settled()

        def answered(user: str) -> None:
            bot.command("help", user=user)
            bot.settled()

        miss = timed(lambda: answered(f"U{next(users)}"), repeat=50)
        hit = timed(lambda: answered("U1"), repeat=50)
        world.close()
    rhombus.stop()
    slack.stop()
    RESULT.add(Figure("delivery key noted (one SQLite write)", note * 1000, "ms"))
    RESULT.add(
        Figure(
            "/clips help acknowledged in-process",
            acked * 1000,
            "ms",
            "",
            "Slack's 3,000 ms",
            acked * 1000 / 3000,
        )
    )
    RESULT.add(
        Figure("/clips help answered in-process, with a users.info lookup", miss * 1000, "ms")
    )
    RESULT.add(Figure("/clips help answered in-process, users.info cached", hit * 1000, "ms"))


def report() -> None:
    """`/clips report 7d` (and the daily summary's figures) over a busy channel's week: a card
    every 30 s for 7 days, a third claimed and a third false alarms."""
    from dataclasses import replace

    from clipbot.state import CLAIMED, FALSE_ALARM, OPEN
    from clipbot.store import open_store
    from clipbot.summary import channel_report

    base = clip_record()
    states = (OPEN, CLAIMED, FALSE_ALARM)
    cards = [
        Card(
            clip=replace(base, uuid=f"R{i}", created_at_ms=T0 - i * 30_000),
            channel_id="C1",
            posted_at_ms=T0 - i * 30_000,
            ts=f"1700000000.{i:06d}",
            camera_names=(f"Camera {i % 40}",),
            state=states[i % 3],
            owner="U1",
            state_at_ms=T0 - i * 30_000 + 60_000,
        )
        for i in range(7 * 24 * 120)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/r.db")
        store.reserve(cards)
        seconds = timed(lambda: channel_report(store, "C1", T0, 7 * 86_400_000, "Report"))
        store.close()
    RESULT.add(
        Figure(
            f"/clips report 7d over {len(cards):,} cards (SQLite)",
            seconds * 1000,
            "ms",
            "",
            "the summary job's 30,000 ms look interval",
            seconds * 1000 / 30_000,
        )
    )


def clip_record():  # type: ignore[no-untyped-def]
    from clipbot.records import Clip

    return Clip.from_api(clip("X", T0, title="Forklift reversing"))


def run() -> Result:
    feed_catch_up()
    builders()
    gate()
    report()
    return RESULT
