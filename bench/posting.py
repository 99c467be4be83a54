"""2. Catch-up (many clips for a few channels) and 3. fan-out (one clip for many channels)."""

from __future__ import annotations

import math
import time

from bench.harness import MEMORY_DISK, fsync_ms, world
from bench.report import Figure, Result, peak_rss_mb
from clipbot.poller import POST_CONCURRENCY
from tests.fakes.rhombus import THUMBNAIL, clip
from tests.world import T0, World

RHOMBUS_LATENCY = 0.05  # seconds a Rhombus answer takes (a feed page, a thumbnail)
SLACK_LATENCY = 0.03  # seconds a Slack Web API call takes


def _cameras(w: World, count: int) -> list[str]:
    names = [f"Camera {chr(ord('A') + n)}{chr(ord('A') + n)}" for n in range(count)]
    w.rhombus.cameras = [{"uuid": f"CAM{n:019d}", "name": name} for n, name in enumerate(names)]
    return names


def _check_order(w: World, channels: list[str], expected: dict[str, list[str]]) -> bool:
    return all(w.posted_uuids(c) == expected[c] for c in channels)


def catch_up(
    clips: int = 2_000, channels: int = 10, rate: float = 5.0, stress: int = 1_000
) -> Result:
    result = Result(
        2,
        "Catch-up",
        f"{clips:,} new clips (each with a thumbnail) for {channels} channels, each channel "
        f"subscribed to one of {channels} cameras, so {clips // channels:,} cards per channel; "
        "digest threshold above the backlog so every clip is a card. The fake Rhombus answers "
        f"in {RHOMBUS_LATENCY * 1000:.0f} ms, the fake Slack in {SLACK_LATENCY * 1000:.0f} ms a "
        f"call and takes {rate:g} posts/s per channel (429 + Retry-After beyond; the poster "
        f"paces at the same rate). One poll cycle, SQLite store.",
    )
    posted, seconds, pages, in_order, ratelimited, uploads, _ = _catch_up(clips, channels, rate)
    per_channel = clips // channels
    feed_floor = math.ceil(clips / 100) * RHOMBUS_LATENCY
    post_floor = per_channel * max(1 / rate, SLACK_LATENCY)
    floor = max(feed_floor, post_floor)
    result.add(
        Figure(
            "cards posted",
            posted,
            "",
            f"{clips:,}",
            "",
            None,
            posted == clips and in_order,
        )
    )
    result.add(
        Figure(
            "wall time",
            seconds,
            "s",
            "≤ 1.2× floor",
            f"{floor:.1f} s = max(feed {feed_floor:.1f} s, posting {post_floor:.1f} s)",
            seconds / floor,
            seconds <= 1.2 * floor,
        )
    )
    rss = peak_rss_mb()
    result.add(
        Figure(
            "peak RSS (whole process, fakes included)", rss, "MB", "< 100 MB", "", None, rss < 100
        )
    )
    result.add(
        Figure(
            "thumbnail uploads",
            uploads,
            "",
            f"{clips:,} (one per clip)",
            "",
            None,
            uploads == clips,
        )
    )
    result.add(Figure("feed pages read", pages, ""))
    result.add(Figure("429 answers from Slack", ratelimited, ""))
    result.note(f"each channel's cards in feed order: {in_order}")
    result.note(
        "scaled: the issue's 10,000 clips at 50 posts/s per channel would take the fakes and "
        "clipbot, sharing one Python process, more CPU than 2 shared cores give (see the stress "
        "run); here 2,000 clips at 5 posts/s per channel (still 5× Slack's real 1/s)."
    )
    if stress:
        fast = 25.0
        s_posted, s_seconds, *_, s_cpu = _catch_up(stress, channels, fast)
        s_floor = max(
            math.ceil(stress / 100) * RHOMBUS_LATENCY,
            stress // channels * max(1 / fast, SLACK_LATENCY),
        )
        result.add(
            Figure(
                f"stress: {stress:,} clips at {fast:g} posts/s per channel, wall time",
                s_seconds,
                "s",
                "",
                f"{s_floor:.1f} s",
                s_seconds / s_floor,
            )
        )
        result.add(Figure("stress: CPU of the process (clipbot and fakes)", s_cpu, "s"))
        result.note(
            f"the stress run is CPU-bound: {s_cpu / max(s_posted, 1) * 1000:.1f} ms of CPU per "
            "card (its 5 HTTP exchanges, each served by the fakes in the same process, and two "
            "store transactions) against a budget of "
            f"{1000 / (fast * channels):.1f} ms per card at {fast * channels:g} cards/s."
        )
    result.note(
        f"feed pages are read before the first card is posted ({pages} pages here, "
        f"{feed_floor:.1f} s of {RHOMBUS_LATENCY * 1000:.0f} ms answers): not read ahead while "
        "cards are posted. Fine at this size (the feed is under 3% of the run); at 10,000 clips "
        "and 50 posts/s per channel the 5 s read would be a quarter of a 20 s floor."
    )
    return result


def _catch_up(
    clips: int, channels: int, rate: float
) -> tuple[int, float, int, bool, int, int, float]:
    """One cycle posting `clips` new clips round-robin to `channels` channels at `rate` posts/s
    per channel: cards posted, seconds, feed pages read, whether each channel's order is the
    feed's, 429 answers, thumbnail uploads, CPU seconds of this process."""
    with world(digest_threshold=clips + 1, pace_seconds=1 / rate) as w:
        w.rhombus.latency, w.slack.latency = RHOMBUS_LATENCY, SLACK_LATENCY
        w.slack.post_rate = rate
        names = _cameras(w, channels)
        start = T0
        records = []
        expected: dict[str, list[str]] = {f"C{n}": [] for n in range(channels)}
        for i in range(clips):
            n = i % channels
            uuid = f"K{i:06d}"
            records.append(clip(uuid, start + 1 + i * 10, cameras=(f"CAM{n:019d}",)))
            w.rhombus.thumbnails[uuid] = THUMBNAIL
            expected[f"C{n}"].append(uuid)
        for n in range(channels):
            w.subscribe(f"C{n}", start_ms=start, camera=names[n])
        w.rhombus.add(*records)
        w.now[0] = start + clips * 10 + 60_000
        t0, cpu0 = time.perf_counter(), time.process_time()
        cycle = w.poller.poll_once()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        pages = len(w.rhombus.calls("getSavedClipsV2"))
        in_order = _check_order(w, list(expected), expected)
        ratelimited = len(w.slack.ratelimited)
        uploads = len(w.slack.called("files.getUploadURLExternal"))
    return cycle.posted, seconds, pages, in_order, ratelimited, uploads, cpu


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
