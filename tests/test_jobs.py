"""Scheduler jobs: named, a repeating failure logged once per change, long runs said once."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest

from clipbot import jobs
from clipbot.inflight import Busy
from clipbot.rhombus import RhombusUnavailable

DOWN = "Rhombus event/getSavedClipsV2 failed after 4 attempts: connection failed (ConnectError)"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "clipbot.jobs"]


class TestStreak:
    def test_outage_logged_at_start_every_five_minutes_and_end(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """25 failed runs 30 s apart make three lines, not 25, and the recovery one more."""
        caplog.set_level(logging.INFO, logger="clipbot.jobs")
        clock = Clock()
        failing = [True]

        def poll() -> None:
            if failing[0]:
                raise RhombusUnavailable(DOWN)

        run = jobs.guarded("poll", poll, Busy(), 30, monotonic=clock)
        for _ in range(25):
            run()
            clock.t += 30
        failing[0] = False
        run()
        lines = said(caplog)
        assert [line.split(" since ")[0] for line in lines] == [
            "poll failing",
            "poll still failing",
            "poll still failing",
            "poll recovered after 25 failed run(s), failing",
        ]
        assert lines[0].endswith(f": {DOWN}")
        assert "(11 runs in a row)" in lines[1] and "(21 runs in a row)" in lines[2]

    def test_a_new_problem_is_said_at_once(self, caplog: pytest.LogCaptureFixture) -> None:
        """While failing, a different problem is logged when it appears; the same one is not."""
        caplog.set_level(logging.INFO, logger="clipbot.jobs")
        streak = jobs.Streak(
            "poll", monotonic=Clock(), now=lambda: 1_764_000_000.0, logger=jobs.log
        )
        for problem in ("A down", "A down", "Slack posting to C1 failed: restricted_action"):
            streak.failed(problem)
        assert said(caplog) == [
            "poll failing since 2025-11-24 16:00:00 UTC: A down",
            "poll failing since 2025-11-24 16:00:00 UTC: "
            "Slack posting to C1 failed: restricted_action",
        ]
        assert [r.failed_runs for r in caplog.records] == [1, 3]  # type: ignore[attr-defined]

    def test_partial_failure_counts(self, caplog: pytest.LogCaptureFixture) -> None:
        """A job that raises Failing (some channel refused) fails the run like an exception."""
        caplog.set_level(logging.INFO, logger="clipbot.jobs")

        def poll() -> None:
            raise jobs.Failing("Slack posting to C1 failed: restricted_action")

        jobs.guarded("poll", poll, Busy(), 30, monotonic=Clock())()
        assert said(caplog)[0].endswith(": Slack posting to C1 failed: restricted_action")


class TestScheduler:
    def test_long_run_is_one_line_and_jobs_are_named(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A run four times longer than its interval: one line saying so, no warning per slot
        skipped, and APScheduler's own lines name the job."""
        caplog.set_level(logging.INFO)
        caplog.set_level(logging.INFO, logger="apscheduler.executors.default")
        ran = threading.Event()

        def slow() -> None:
            time.sleep(1.0)
            ran.set()

        sched = jobs.scheduler({"poll": jobs.Every(slow, 0.25, at_once=True)}, Busy())
        sched.start()
        try:
            assert ran.wait(5)
            time.sleep(0.2)
        finally:
            sched.shutdown(wait=True)
        messages = [r.getMessage() for r in caplog.records]
        assert [m for m in messages if "maximum number of running instances" in m] == []
        assert [m for m in messages if "was missed by" in m] == []
        overran = [m for m in messages if "longer than its" in m]
        # How long the run took depends on the machine's load: only the shape of the line is pinned.
        assert len(overran) >= 1
        assert re.fullmatch(
            r"poll took \d+s, longer than its 0\.25s interval: the runs due meanwhile were "
            r"skipped, and the next starts on schedule",
            overran[0],
        )
        assert any(m.startswith('Running job "poll (trigger: interval') for m in messages)
