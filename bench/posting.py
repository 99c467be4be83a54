"""3. Fan-out: one clip for many channels, against posting one channel after the other."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import NamedTuple

from bench.catchup import RHOMBUS_LATENCY, SLACK_LATENCY
from bench.harness import MEMORY_DISK, WriteCounter, fsync_ms, remote_world
from bench.report import Figure, Result
from clipbot.poller import POST_CONCURRENCY
from tests.fakes.rhombus import THUMBNAIL, FakeRhombus, clip
from tests.fakes.slack import FakeSlack
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
        "here with the same fakes. The two fakes serve from processes of their own.",
    )
    side_by_side = _fan_out(channels, workers=None)
    sequential = _fan_out(channels, workers=1)
    in_memory = _fan_out(channels, workers=None, folder=MEMORY_DISK)
    sequential_in_memory = _fan_out(channels, workers=1, folder=MEMORY_DISK)
    fsync = fsync_ms()
    with busy_disk():
        busy_fsync = fsync_ms()
        busy = _fan_out(channels, workers=None)
    posted = side_by_side.posted
    result.add(Figure("channels posted", posted, "", f"{channels}", "", None, posted == channels))
    for name, run, baseline in [
        ("wall time", side_by_side, f"sequential {sequential.seconds:.2f} s"),
        (
            f"wall time, disk kept busy (fsync {busy_fsync:.1f} ms)",
            busy,
            f"sequential, disk not kept busy, {sequential.seconds:.2f} s",
        ),
    ]:
        ratio = sequential.seconds / run.seconds
        target = "≥ 8× faster than sequential"
        result.add(Figure(name, run.seconds, "s", target, baseline, ratio, ratio >= 8))
    result.add(
        Figure(
            "wall time, store on tmpfs (no fsync)",
            in_memory.seconds,
            "s",
            "",
            f"sequential on tmpfs {sequential_in_memory.seconds:.2f} s",
            sequential_in_memory.seconds / in_memory.seconds,
        )
    )
    result.add(
        Figure(
            "store transactions waiting for the disk (fsync), in the cycle",
            side_by_side.durable,
            "",
            "",
            f"one per card before they were batched: {channels + 3}",
        )
    )
    result.add(Figure("one fsync on this disk now", fsync, "ms"))
    result.add(Figure("429 answers from Slack", side_by_side.ratelimited, ""))
    result.note(
        f"what is left in series, and why: (1) the feed page and the clip's one thumbnail (its "
        f"fetch and 3 Slack calls), which every card waits for; (2) one durable transaction "
        f"reserving all {channels} cards before the first is posted (exactly-once: a card is "
        "written down before it is sent), so the disk is waited for once, not once per channel "
        f"({side_by_side.durable} fsync(s) in the whole cycle: the feed positions and health "
        "written at its end do not wait for the disk either, since a position lost with the "
        "machine is only behind and that part of the feed is read again, its cards skipped; "
        "the sequential baseline reserves ahead the same way and is spared those fsyncs too); "
        f"(3) the posts, {POST_CONCURRENCY} channels at a time (about {channels} / "
        f"{POST_CONCURRENCY} round trips of {SLACK_LATENCY * 1000:.0f} ms); (4) each card's "
        "confirmation, a short transaction that does not wait for the disk (a confirmation lost "
        "with the machine leaves the card in doubt, found in the channel's history by its "
        "metadata on restart), taken one at a time on the store's one connection; (5) clipbot's "
        "CPU: its posting threads take turns in one Python process (on 2 cores shared with the "
        "fakes' processes and whatever else runs)."
    )
    result.note(
        f"the busy-disk run has another process writing and fsyncing {BUSY_WRITE_MB} MB at a "
        f"time beside it (fsync {fsync:.2f} ms before, {busy_fsync:.1f} ms during); its "
        "ratio is against the sequential run on the disk not kept busy, which flatters the "
        "baseline (sequential on a busy disk pays every fsync one after the other). Before "
        "the reservations were batched, each card's was its own fsync, taken one at a time: at "
        "2–4 ms an fsync on a busy disk that was 0.4–0.8 s, and the ratio fell below 8×."
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


class Run(NamedTuple):
    seconds: float
    posted: int  # channels that got the clip, once
    ratelimited: int  # 429 answers
    durable: int  # store transactions that waited for the disk during the cycle


def _fan_out(channels: int, workers: int | None, folder: str | None = None) -> Run:
    """One clip to `channels` channels in one cycle; the fakes serve from processes of their own
    (bench.remote), so this process's CPU is clipbot's."""
    slack = {
        "latency": SLACK_LATENCY,
        "post_rate": 1.0,
        "post_burst": 1.0,
        "workspace_rate": WORKSPACE_RATE,
        "workspace_burst": WORKSPACE_BURST,
    }
    with remote_world({"latency": RHOMBUS_LATENCY}, slack, folder, pace_seconds=1.0) as (
        w,
        rhombus,
        fake_slack,
    ):
        if workers is not None:
            w.poller.workers = workers
        for n in range(channels):
            w.subscribe(_channel(n), start_ms=T0)
        rhombus.call(_one_clip)
        w.now[0] = T0 + 60_000
        writes = WriteCounter(w)
        t0 = time.perf_counter()
        w.poller.poll_once()
        seconds = time.perf_counter() - t0
        posted, ratelimited = fake_slack.call(_posted, channels)
        return Run(seconds, posted, ratelimited, writes.durable)


def _channel(n: int) -> str:
    return f"C{n:03d}"


# -- run in the fakes' processes (bench.remote) ---------------------------------------------------


def _one_clip(fake: FakeRhombus) -> None:
    fake.thumbnails["F1"] = THUMBNAIL
    fake.add(clip("F1", T0 + 1))


def _posted(fake: FakeSlack, channels: int) -> tuple[int, int]:
    """Channels whose one post is the clip's card; 429 answers."""
    posted = sum(
        [(m.metadata or {}).get("event_payload", {}).get("clip_uuid") for m in fake.posts(c)]
        == ["F1"]
        for c in map(_channel, range(channels))
    )
    return posted, len(fake.ratelimited)


# A disk kept busy: another process overwrites this much and fsyncs it, again and again.
BUSY_WRITE_MB = 8
_BUSY = """
import os, sys
out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
data = b"x" * (int(sys.argv[2]) << 20)
while True:
    os.pwrite(out, data, 0)
    os.fsync(out)
"""


@contextlib.contextmanager
def busy_disk() -> Iterator[None]:
    """Another process writing BUSY_WRITE_MB and fsyncing it, over and over, in the temporary
    folder's file system (where the store is) while the block runs."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        command = [sys.executable, "-c", _BUSY, os.path.join(tmp, "busy"), str(BUSY_WRITE_MB)]
        writer = subprocess.Popen(command)
        try:
            time.sleep(0.5)  # its first writes under way
            yield
        finally:
            writer.kill()
            writer.wait()


WORKSPACE_RATE = 10.0  # posts/s across the workspace (600 a minute) assumed for the fan-out
WORKSPACE_BURST = 300.0
