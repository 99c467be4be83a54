"""The background jobs of `clipbot run` (poll, remind) on one APScheduler scheduler.

Each job has a name APScheduler's own lines use, runs one at a time, counts as work in progress
for a stop (`Busy`), and logs its failure in one line; a run that outlasts its interval says so
once when it ends instead of APScheduler warning at every slot it skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot.notify import slack_error
from clipbot.rhombus import RhombusError
from clipbot.stopping import Busy, Stopped

log = logging.getLogger(__name__)

Job = Callable[[], object]


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


def guarded(
    name: str,
    job: Job,
    busy: Busy,
    every: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> Callable[[], None]:
    """`job` as a scheduler runs it: its failure is one log line, the next run tries again, and
    a run longer than `every` seconds is reported once."""

    def run() -> None:
        started = monotonic()
        with busy.task():
            try:
                job()
            except Stopped:
                log.info("%s: stopped before it finished", name)
            except RhombusError as exc:
                log.error("%s failed: %s", name, exc)
            except (SlackApiError, SlackClientError) as exc:
                log.error("%s failed: slack %s", name, slack_error(exc))
            except Exception:
                log.exception("%s failed unexpectedly", name)
        took = monotonic() - started
        if took > every:
            log.warning(
                "%s took %.0fs, longer than its %.0fs interval: the runs due meanwhile were "
                "skipped, and the next starts on schedule",
                name,
                took,
                every,
            )

    return run
