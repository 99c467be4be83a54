"""4. Freshness: a clip saved in Rhombus → its card in Slack, through the real process."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from bench.process import Process, environment, sqlite_url
from bench.report import Figure, Result, median, percentile
from clipbot.state import Subscription
from clipbot.store import SqliteStore
from tests.bolt import eventually
from tests.fakes.rhombus import THUMBNAIL, FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode

POLL_SECONDS = 5
CHANNELS = 5
RHOMBUS_LATENCY = 0.05
SLACK_LATENCY = 0.03


def run(clips: int = 50, spacing: float = 1.0) -> Result:
    result = Result(
        4,
        "Freshness",
        f"A real `clipbot run` at CLIPBOT_POLL_SECONDS={POLL_SECONDS}; {CHANNELS} channels, each "
        f"subscribed to its own camera; {clips} clips (each with a thumbnail) saved at random "
        f"moments (on average {spacing:g} s apart, so they fall anywhere in the poll interval), "
        "round-robin over the cameras, so no channel gets more than Slack's 1 post/s; fake Rhombus "
        f"{RHOMBUS_LATENCY * 1000:.0f} ms, fake Slack {SLACK_LATENCY * 1000:.0f} ms a call. "
        "Freshness: the clip appearing in the feed → its card arriving at the fake Slack.",
    )
    rhombus, slack, socket = FakeRhombus().start(), FakeSlack().start(), FakeSocketMode().start()
    rhombus.latency, slack.latency = RHOMBUS_LATENCY, SLACK_LATENCY
    slack.socket_url = socket.url
    rng = random.Random(12)
    saved: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = sqlite_url(Path(tmp))
        start_ms = int(time.time() * 1000)
        store = SqliteStore(url.removeprefix("sqlite:///"))
        rhombus.cameras = [{"uuid": f"CAM{n:019d}", "name": f"Gate {n}"} for n in range(CHANNELS)]
        for n in range(CHANNELS):
            store.subscribe(
                Subscription(
                    f"C{n}", "T0001", "U1", start_ms, start_ms=start_ms, camera=f"Gate {n}"
                )
            )
        store.close()
        env = environment(rhombus, slack, url)
        env["CLIPBOT_POLL_SECONDS"] = str(POLL_SECONDS)
        bot = Process(["run"], env, Path(tmp))
        try:
            assert eventually(lambda: socket.connections, timeout=60), bot.stderr[-2000:]
            for n in range(clips):
                time.sleep(rng.uniform(0, 2 * spacing))
                uuid = f"F{n:03d}"
                rhombus.thumbnails[uuid] = THUMBNAIL
                camera = f"CAM{n % CHANNELS:019d}"
                rhombus.add(clip(uuid, int(time.time() * 1000), cameras=(camera,)))
                saved[uuid] = time.monotonic()
            eventually(lambda: len(slack.posts()) >= clips, timeout=4 * POLL_SECONDS)
        finally:
            bot.stop()
            socket.stop()
            rhombus.stop()
            slack.stop()
    arrived = {
        (m.metadata or {}).get("event_payload", {}).get("clip_uuid"): m.at for m in slack.posts()
    }
    delays = [arrived[u] - at for u, at in saved.items() if u in arrived]
    result.add(Figure("cards posted", len(delays), "", f"{clips}", "", None, len(delays) == clips))
    result.add(
        Figure(
            "p50",
            median(delays),
            "s",
            "",
            f"half the poll interval, {POLL_SECONDS / 2:g} s",
            median(delays) / (POLL_SECONDS / 2),
        )
    )
    p95 = percentile(delays, 95)
    result.add(
        Figure(
            "p95",
            p95,
            "s",
            f"≤ {POLL_SECONDS + 1} s",
            "Zapier's Rhombus trigger: 60–900 s",
            60 / p95,
            p95 <= POLL_SECONDS + 1,
        )
    )
    result.add(Figure("max", max(delays), "s"))
    result.note("ratio for p95 is how many times sooner than Zapier's fastest (60 s) polling.")
    return result
