"""7. Replicas: catch-up with one, two and three `clipbot run` on one PostgreSQL database, and
the time a new leader takes over after the polling one is killed."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.process import environment
from bench.report import Figure, Result
from clipbot.state import Subscription
from clipbot.store.postgres import PostgresStore
from tests import postgres
from tests.bolt import eventually
from tests.fakes.rhombus import THUMBNAIL, FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.test_failover import Replica, leader_of
from tests.world import T0

POLL_SECONDS = 2
CHANNELS = 10
RHOMBUS_LATENCY = 0.05
SLACK_LATENCY = 0.03


def run(clips: int = 200, replicas: tuple[int, ...] = (1, 2, 3), failover: bool = True) -> Result:
    per_channel = clips // CHANNELS
    result = Result(
        7,
        "Replicas (PostgreSQL)",
        f"`clipbot run` replicas (HTTP mode) on one PostgreSQL database (a throwaway local "
        f"server, as the tests start it), CLIPBOT_POLL_SECONDS={POLL_SECONDS}; {clips} new clips "
        f"with thumbnails for {CHANNELS} channels ({per_channel} cards each, camera filters), "
        f"added once a leader is elected; fake Rhombus {RHOMBUS_LATENCY * 1000:.0f} ms, fake "
        f"Slack {SLACK_LATENCY * 1000:.0f} ms a call. The real process paces each channel at "
        "Slack's 1 post/s, so the floor is one post a second per channel.",
    )
    floor = per_channel - 1.0  # a channel's first post at once, then one a second
    with postgres.cluster() as server:
        for count in replicas:
            seconds, took_over = _catch_up(server.url, clips, count, failover and count == 3)
            target = 1.2 * floor + POLL_SECONDS
            result.add(
                Figure(
                    f"catch-up with {count} replica(s)",
                    seconds,
                    "s",
                    f"≤ 1.2× floor + one poll interval ({target:.0f} s)",
                    f"{floor:.0f} s: {per_channel} posts a channel, 1 s apart",
                    seconds / floor if floor else None,
                    seconds <= target,
                )
            )
            if took_over is not None:
                result.add(
                    Figure(
                        "failover: leader SIGKILLed → another replica leads",
                        took_over,
                        "s",
                        f"≤ {2 * POLL_SECONDS} s (two poll intervals)",
                        "",
                        None,
                        took_over <= 2 * POLL_SECONDS,
                    )
                )
    result.note(
        "only the leader polls and posts, so more replicas bring availability, not "
        "speed: catch-up time stays at the one-leader figure."
    )
    return result


def _catch_up(server: str, clips: int, count: int, failover: bool) -> tuple[float, float | None]:
    """Seconds from the clips appearing to the last card posted; then, with `failover`, seconds
    from SIGKILLing the leader to another replica holding the lease."""
    url = postgres.fresh_database(server)
    store = PostgresStore(url)
    rhombus, slack = FakeRhombus().start(), FakeSlack().start()
    rhombus.cameras = [{"uuid": f"CAM{n:019d}", "name": f"Dock {n}"} for n in range(CHANNELS)]
    for n in range(CHANNELS):
        store.subscribe(Subscription(f"C{n}", "T0001", "U1", T0, start_ms=T0, camera=f"Dock {n}"))
    env = {
        **environment(rhombus, slack, url),
        "CLIPBOT_POLL_SECONDS": str(POLL_SECONDS),
        "CLIPBOT_DIGEST_THRESHOLD": str(clips + 1),
    }
    running: list[Replica] = []
    took_over = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            running = [Replica(env, Path(tmp) / f"r{i}") for i in range(count)]
            leader = eventually(lambda: leader_of(store, running), timeout=60)
            assert leader is not None, running[0].process.stderr[-2000:]
            rhombus.latency, slack.latency = RHOMBUS_LATENCY, SLACK_LATENCY
            records = []
            for i in range(clips):
                uuid = f"R{i:05d}"
                rhombus.thumbnails[uuid] = THUMBNAIL
                records.append(clip(uuid, T0 + 1 + i, cameras=(f"CAM{i % CHANNELS:019d}",)))
            rhombus.add(*records)
            t0 = time.monotonic()
            assert eventually(lambda: len(slack.posts()) >= clips, timeout=clips * 2)
            seconds = max(m.at for m in slack.posts()) - t0
            if failover:
                leader.process.proc.kill()
                killed = time.monotonic()
                leader.process.wait()
                running.remove(leader)
                assert eventually(lambda: leader_of(store, running), timeout=60)
                took_over = time.monotonic() - killed
        finally:
            for replica in running:
                if replica.process.proc.poll() is None:
                    replica.process.stop()
            store.close()
            rhombus.stop()
            slack.stop()
    return seconds, took_over
