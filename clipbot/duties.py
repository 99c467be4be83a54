"""The background jobs of a running bot, by name: `lease` on every replica; `poll`, `remind`,
`prune` and `summary` only on the leader (see leader.py)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from clipbot import jobs, pruning, triage
from clipbot.summary import DailySummary

if TYPE_CHECKING:
    from clipbot.bot import Bot

log = logging.getLogger("clipbot.bot")  # the poll lines keep the logger they always had

SUMMARY_EVERY_S = 30  # how often the summary job looks whether a summary is due
LEADER_JOBS = ("poll", "remind", "summary")  # run at once by a newly elected leader


def background_jobs(bot: Bot) -> dict[str, jobs.Every]:
    """The background jobs: the lease on every replica; the rest only on the leader."""
    settings, only = bot.settings, bot.leadership.only
    named = {
        "lease": jobs.Every(bot.leadership.renew, bot.leadership.renew_every_s, True),
        "poll": jobs.Every(only(lambda: poll(bot)), settings.poll_seconds, True),
    }
    if settings.remind_minutes > 0:
        remind = lambda: triage.remind_unclaimed(  # noqa: E731
            bot.store, bot.poster, minutes=settings.remind_minutes, now_ms=bot.clock
        )
        # every poll interval, so a reminder is at most one poll interval late
        named["remind"] = jobs.Every(only(remind), settings.poll_seconds)
    prune = lambda: pruning.prune(bot.store, bot.clock())  # noqa: E731
    named["prune"] = jobs.Every(only(prune), pruning.PRUNE_EVERY_S)
    if settings.summary_at is not None:
        daily = DailySummary(
            bot.store,
            bot.poster,
            at=settings.summary_at,
            zone=settings.timezone,
            now_ms=bot.clock,
        )
        # at_once: a bot started less than an hour late posts at once
        named["summary"] = jobs.Every(only(daily.run), SUMMARY_EVERY_S, at_once=True)
    return named


def poll(bot: Bot) -> None:
    """One poll cycle as the poll job runs it: measured, logged when it did something."""
    with bot.metrics.cycle() as done:
        result = bot.poller.poll_once()
        done(result.posted, bool(result.failed))
    if result.posted or result.updated or result.broken:
        log.info(
            "poll posted=%d digests=%d updated=%d broken=%d failed=%d",
            result.posted,
            result.digests,
            result.updated,
            len(result.broken),
            len(result.failed),
        )
    if result.failed:
        raise jobs.Failing("; ".join(result.failed))
