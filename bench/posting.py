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
from bench.harness import MEMORY_DISK, WriteCounter, fsync_ms, world
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
        f"({side_by_side.durable} fsyncs in the whole cycle, with the positions and health; the "
        "sequential baseline reserves ahead the same way and is spared those fsyncs too); "
        f"(3) the posts, {POST_CONCURRENCY} channels at a time (about {channels} / "
        f"{POST_CONCURRENCY} round trips of {SLACK_LATENCY * 1000:.0f} ms); (4) each card's "
        "confirmation, a short transaction that does not wait for the disk (a confirmation lost "
        "with the machine leaves the card in doubt, found in the channel's history by its "
        "metadata on restart), taken one at a time on the store's one connection; (5) the CPU: "
        "clipbot and the fakes share one Python process."
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
    """One clip to `channels` channels in one cycle."""
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
        writes = WriteCounter(w)
        t0 = time.perf_counter()
        w.poller.poll_once()
        seconds = time.perf_counter() - t0
        posted = sum(w.posted_uuids(f"C{n:03d}") == ["F1"] for n in range(channels))
        return Run(seconds, posted, len(w.slack.ratelimited), writes.durable)


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
