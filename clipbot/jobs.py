"""The background jobs of `clipbot run` (poll, remind, summary) on one APScheduler scheduler.

Each job has a name APScheduler's own lines use, runs one at a time, and counts as work in
progress for a stop (`Busy`). A failure that repeats run after run is logged when it starts,
recalled at most every `RECALL_S`, and when it ends (`Streak`), not once a run; a run that
outlasts its interval says so once when it ends instead of APScheduler warning at every slot
it skipped.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import NamedTuple

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import logs
from clipbot.inflight import Busy
from clipbot.logs import RECALL_S, Streak
from clipbot.rhombus import RhombusError
from clipbot.slack_errors import slack_error
from clipbot.stopping import Stopped
from clipbot.store import StoreError

log = logging.getLogger(__name__)

Job = Callable[[], object]
__all__ = ["RECALL_S", "Failing", "Streak", "guarded", "run_now", "scheduler"]


class Failing(Exception):
    """Raised by a job whose run went wrong in part (a channel refused its cards, say): the
    message says what, and it counts as a failed run."""


class Every(NamedTuple):
    """A job run every `seconds`; the first run at once, or after one interval."""

    job: Job
    seconds: float
    at_once: bool = False


class _SkippedSlots(logging.Filter):
    """Drops APScheduler's warning for each slot skipped while a run is still going: the run
    reports that once itself (see `guarded`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in str(record.msg)


_SKIPPED_SLOTS = _SkippedSlots()


def scheduler(jobs: dict[str, Every], busy: Busy) -> BackgroundScheduler:
    """A scheduler (not started) running each named job."""
    logging.getLogger("apscheduler.scheduler").addFilter(_SKIPPED_SLOTS)
    sched = BackgroundScheduler()
    for name, every in jobs.items():
        sched.add_job(
            guarded(name, every.job, busy, every.seconds),
            "interval",
            seconds=every.seconds,
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(every.seconds)),
            **({"next_run_time": datetime.now().astimezone()} if every.at_once else {}),
        )
    return sched


def run_now(sched: BackgroundScheduler, names: Iterable[str]) -> None:
    """Runs the named jobs as soon as a worker is free, instead of at their next slot."""
    for name in names:
        sched.modify_job(name, next_run_time=datetime.now().astimezone())


def guarded(
    name: str,
    job: Job,
    busy: Busy,
    every: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> Callable[[], None]:
    """`job` as a scheduler runs it: failures go to its `Streak`, the next run tries again, and
    a run longer than `every` seconds is reported once."""
    streak = Streak(name, monotonic, logger=log)
    runs = itertools.count(1)

    def run() -> None:
        started = monotonic()
        with busy.task(), logs.context(cycle=f"{name}-{next(runs)}"):
            _run_once(name, job, streak)
        took = monotonic() - started
        if took > every:
            log.warning(
                "%s took %.0fs, longer than its %gs interval: the runs due meanwhile were "
                "skipped, and the next starts on schedule",
                name,
                took,
                every,
            )

    return run


def _run_once(name: str, job: Job, streak: Streak) -> None:
    try:
        job()
    except Stopped:
        log.info("%s: stopped before it finished", name)
        return
    except (Failing, RhombusError, StoreError) as exc:
        streak.failed(str(exc))
        return
    except (SlackApiError, SlackClientError) as exc:
        streak.failed(f"slack {slack_error(exc)}")
        return
    except Exception as exc:
        streak.failed(f"unexpected {type(exc).__name__}: {exc}", exc_info=True)
        return
    streak.succeeded()
