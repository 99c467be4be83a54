"""1. The idle cycle: nothing new for 10 subscriptions."""

from __future__ import annotations

import time

from bench.harness import WriteCounter, world
from bench.report import Figure, Result, median
from tests.fakes.rhombus import clip
from tests.world import T0


def run(cycles: int = 200) -> Result:
    result = Result(
        1,
        "Idle cycle",
        f"10 subscriptions, a feed of 500 clips none of them new; the median of {cycles} cycles "
        "after a first one (SQLite store, loopback fakes without latency).",
    )
    with world() as w:
        w.rhombus.add(*(clip(f"C{i:04d}", T0 + i * 10_000) for i in range(500)))
        for n in range(10):
            w.subscribe(f"C{n}", start_ms=T0 + 500 * 10_000)
        w.poller.poll_once()
        requests0, calls0 = len(w.rhombus.requests), len(w.slack.calls)
        writes = WriteCounter(w)
        cpu, wall = [], []
        for _ in range(cycles):
            c0, t0 = time.process_time(), time.perf_counter()
            w.poller.poll_once()
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - t0)
        requests = (len(w.rhombus.requests) - requests0) / cycles
        calls = (len(w.slack.calls) - calls0) / cycles
        transactions, rows = writes.transactions / cycles, writes.rows / cycles
        kinds = sorted({r.path.rsplit("/", 1)[-1] for r in w.rhombus.requests[requests0:]})
    result.add(
        Figure(
            "Rhombus requests per cycle",
            requests,
            "",
            "1",
            "1 (one feed page)",
            requests / 1,
            requests <= 1,
        )
    )
    result.add(Figure("Slack calls per cycle", calls, "", "0", "0", None, calls == 0))
    cpu_ms = median(cpu) * 1000
    result.add(
        Figure(
            "CPU per cycle (process_time, fakes included)",
            cpu_ms,
            "ms",
            "< 5 ms",
            "5 ms",
            cpu_ms / 5,
            cpu_ms < 5,
        )
    )
    result.add(Figure("wall time per cycle", median(wall) * 1000, "ms"))
    result.add(
        Figure(
            "store write transactions per cycle",
            transactions,
            "",
            "1 (health)",
            "1",
            transactions,
            transactions <= 1,
        )
    )
    result.add(Figure("store rows changed per cycle", rows, ""))
    result.note(f"requests made: {', '.join(kinds)}")
    result.note(
        "CPU includes the fake servers answering in this same process (they share the "
        "interpreter), so it over-states clipbot's own share."
    )
    return result
