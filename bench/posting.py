"""3. Fan-out: one clip for many channels, against posting one channel after the other."""

from __future__ import annotations

import time

from bench.catchup import RHOMBUS_LATENCY, SLACK_LATENCY
from bench.harness import MEMORY_DISK, fsync_ms, world
from bench.report import Figure, Result
from clipbot.poller import POST_CONCURRENCY
from tests.fakes.rhombus import THUMBNAIL, clip
from tests.world import T0


def fan_out(channels: int = 200) -> Result:
    result = Result(
        3,
        "Fan-out",
        f"One new clip (with a thumbnail) for {channels} subscribed channels; the fake Slack "
        f"takes {SLACK_LATENCY * 1000:.0f} ms a call, 1 post/s per channel (Slack's documented "
        "chat.postMessage limit) and a workspace-wide limit (see the notes); the fake Rhombus "
        f"answers in {RHOMBUS_LATENCY * 1000:.0f} ms; SQLite store. Baseline: the same cycle "
        "posting one channel after the other (the poller with one posting worker), measured "
        "here with the same fakes.",
    )
    seconds, posted, ratelimited = _fan_out(channels, workers=None)
    sequential, _, _ = _fan_out(channels, workers=1)
    in_memory, _, _ = _fan_out(channels, workers=None, folder=MEMORY_DISK)
    sequential_in_memory, _, _ = _fan_out(channels, workers=1, folder=MEMORY_DISK)
    fsync = fsync_ms()
    result.add(Figure("channels posted", posted, "", f"{channels}", "", None, posted == channels))
    result.add(
        Figure(
            "wall time",
            seconds,
            "s",
            "≥ 8× faster than sequential",
            f"sequential {sequential:.2f} s",
            sequential / seconds,
            sequential / seconds >= 8,
        )
    )
    result.add(
        Figure(
            "wall time, store on tmpfs (no fsync)",
            in_memory,
            "s",
            "",
            f"sequential on tmpfs {sequential_in_memory:.2f} s",
            sequential_in_memory / in_memory,
        )
    )
    result.add(Figure("one fsync on this disk now", fsync, "ms"))
    result.add(Figure("429 answers from Slack", ratelimited, ""))
    result.note(
        "with the posts side by side, what is left in series is the store: each card is "
        "reserved in a durable SQLite transaction (one fsync, taken one at a time) before it "
        f"is sent, which exactly-once needs. fsync took {fsync:.2f} ms here now, so "
        f"{channels} reservations cost {channels * fsync / 1000:.2f} s; on a busy disk (2–4 ms "
        "an fsync, measured on this machine while other work ran) they cost 0.4–0.8 s and the "
        "ratio fell to 7.8× in one run. The tmpfs run shows the figure without that cost."
    )
    result.note(
        "assumed Slack limits: chat.postMessage 1 per second per channel (Slack's documented "
        f"'special' tier, short bursts allowed) and, workspace-wide, {WORKSPACE_RATE * 60:.0f} "
        f"posts a minute taken in bursts of up to {WORKSPACE_BURST:.0f} (Slack publishes no "
        "number, only that a workspace-wide limit exists; 'several hundred a minute' is the "
        f"order it is known to take). clipbot keeps at most {POST_CONCURRENCY} channels posting "
        "at once (clipbot.poller.POST_CONCURRENCY), each channel's posts one after the other "
        "(order kept) and paced at 1 per second, and honours 429 Retry-After."
    )
    return result


def _fan_out(
    channels: int, workers: int | None, folder: str | None = None
) -> tuple[float, int, int]:
    """Seconds, channels posted, 429 answers: one clip to `channels` channels in one cycle."""
    with world(folder, pace_seconds=1.0) as w:
        if workers is not None:
            w.poller.workers = workers
        w.rhombus.latency, w.slack.latency = RHOMBUS_LATENCY, SLACK_LATENCY
        w.slack.post_rate, w.slack.post_burst = 1.0, 1.0
        w.slack.workspace_rate, w.slack.workspace_burst = WORKSPACE_RATE, WORKSPACE_BURST
        for n in range(channels):
            w.subscribe(f"C{n:03d}", start_ms=T0)
        w.rhombus.thumbnails["F1"] = THUMBNAIL
        w.rhombus.add(clip("F1", T0 + 1))
        w.now[0] = T0 + 60_000
        t0 = time.perf_counter()
        w.poller.poll_once()
        seconds = time.perf_counter() - t0
        posted = sum(w.posted_uuids(f"C{n:03d}") == ["F1"] for n in range(channels))
        return seconds, posted, len(w.slack.ratelimited)


WORKSPACE_RATE = 10.0  # posts/s across the workspace (600 a minute) assumed for the fan-out
WORKSPACE_BURST = 300.0
