"""6. Memory over time: RSS across many poll cycles with some traffic."""

from __future__ import annotations

import gc
import time

from bench.harness import world
from bench.report import Figure, Result, rss_mb
from tests.fakes.rhombus import THUMBNAIL, clip
from tests.world import T0


def run(cycles: int = 10_000, checkpoint: int = 1_000) -> Result:
    result = Result(
        6,
        "Memory over time",
        f"{cycles:,} poll cycles in one process (SQLite store, loopback fakes without latency), "
        "10 subscriptions; every 20th cycle a new clip with a thumbnail arrives (a card in each "
        "of 2 channels), every 100th clip is still rendering and its card is redrawn when it is "
        "done. The fakes' call logs and all but their 50 newest messages are dropped as it goes, "
        "so what grows is clipbot's. RSS of the whole process (fakes included).",
    )
    with world(digest_threshold=1000) as w:
        w.rhombus.cameras.append({"uuid": "CAM0000000000000000003", "name": "Yard"})
        for n in range(10):
            camera = "Front Door" if n < 2 else "Yard"
            w.subscribe(f"C{n}", start_ms=T0, camera=camera)
        at = T0 + 1
        posted = 0
        rss: dict[int, float] = {}
        t0 = time.perf_counter()
        for cycle in range(1, cycles + 1):
            if cycle % 20 == 0:
                uuid = f"M{cycle:06d}"
                w.rhombus.thumbnails[uuid] = THUMBNAIL
                status = "RENDERING" if cycle % 100 == 0 else "COMPLETE"
                w.rhombus.add(clip(uuid, at, status=status))
                at += 60_000
            if cycle % 100 == 50:
                rendering = [c["uuid"] for c in w.rhombus.clips if c["status"] == "RENDERING"]
                for uuid in rendering:
                    w.rhombus.update(uuid, status="COMPLETE")
            w.now[0] = at + 60_000
            w.bot.leadership.renew()  # as `clipbot run`'s lease job does between cycles
            w.poller.poll_once()
            if cycle % 100 == 0:
                w.rhombus.requests.clear()
                w.slack.calls.clear()
                posted += len(w.slack.messages)
                del w.slack.messages[:-50]  # the fake's copies; the newest kept for card edits
                posted -= len(w.slack.messages)
            if cycle == 100 or cycle % checkpoint == 0:
                gc.collect()
                rss[cycle] = rss_mb()
        seconds = time.perf_counter() - t0
        posted += len(w.slack.messages)
    first = min(c for c in rss if c >= checkpoint)
    last = max(rss)
    growth = (rss[last] - rss[first]) / ((last - first) / 1000) if last > first else 0.0
    for cycle in sorted(rss):
        if cycle in (100, first, last):
            met = rss[cycle] < 80 if cycle != 100 else None
            result.add(
                Figure(
                    f"RSS after {cycle:,} cycles",
                    rss[cycle],
                    "MB",
                    "< 80 MB" if met is not None else "",
                    "",
                    None,
                    met,
                )
            )
    result.add(
        Figure(
            f"growth from {first:,} to {last:,} cycles, per 1,000",
            growth,
            "MB",
            "< 1 MB",
            "",
            None,
            growth < 1,
        )
    )
    result.add(Figure("messages posted along the way", posted, ""))
    result.add(Figure("mean cycle", seconds / cycles * 1000, "ms"))
    result.note(
        "RSS at every checkpoint: "
        + ", ".join(f"{c:,}: {v:.1f} MB" for c, v in sorted(rss.items()))
    )
    return result
