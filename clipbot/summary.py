"""The daily summary job: one message a day per subscribed channel, never twice.

Each channel's summary for a local day is written to the store before it is posted and
settled after (reserve → post → confirm). A summary whose posting was interrupted is in
doubt; the next run looks for it in the channel's history by its metadata. A bot that was
down at CLIPBOT_SUMMARY_AT posts on start if it is less than an hour late. Later than that, or
with days missed since the channel's last summary, it posts one catch-up summary naming the
missed days (at most CATCH_UP_DAYS, the latest), with the figures of that many days; a
channel's very first summary is skipped instead when late (it has no days to catch up on).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import report
from clipbot.blocks import Message
from clipbot.notify import ChannelBroken, SlackPoster
from clipbot.report import DAY_MS, HOUR_MS, WEEK_MS
from clipbot.slack_errors import slack_error
from clipbot.state import SUMMARY_POSTED, SUMMARY_RESERVED, SUMMARY_SKIPPED, SummaryRecord
from clipbot.store import Store

log = logging.getLogger(__name__)

LATE_LIMIT_MS = HOUR_MS  # a summary later than this is skipped for the day
IN_FLIGHT_MS = 120_000  # a reservation younger than this may still be being posted elsewhere
CATCH_UP_DAYS = 7  # a catch-up summary names at most this many missed days


def due(now_ms: int, at: time, zone: ZoneInfo) -> tuple[str, int]:
    """The latest summary time at or before `now_ms`: (local day `YYYY-MM-DD`, epoch ms)."""
    today = datetime.fromtimestamp(now_ms / 1000, zone).date()
    scheduled = _instant(today, at, zone)
    if scheduled <= now_ms:
        return today.isoformat(), scheduled
    yesterday = today - timedelta(days=1)
    return yesterday.isoformat(), _instant(yesterday, at, zone)


def midnight(now_ms: int, zone: ZoneInfo) -> int:
    """When the local day of `now_ms` began in `zone` (epoch ms), with that day's own offset:
    on a daylight-saving change it is not `now` minus the hours since midnight by today's."""
    return _instant(datetime.fromtimestamp(now_ms / 1000, zone).date(), time(0), zone)


def _instant(day: date, at: time, zone: ZoneInfo) -> int:
    # A time skipped by a DST change is read with the offset before the change (fold=0).
    return int(datetime.combine(day, at, tzinfo=zone).timestamp() * 1000)


def channel_report(
    store: Store, channel_id: str, now_ms: int, window_ms: int, heading: str
) -> Message:
    """A channel's figures over `window_ms` (false-alarm cameras over at least 7 days)."""
    camera_window = max(window_ms, WEEK_MS)
    since = now_ms - camera_window
    figs = report.figures(
        store.posted_in(channel_id, since),
        store.first_claims(channel_id, since),
        now_ms=now_ms,
        window_ms=window_ms,
        camera_window_ms=camera_window,
    )
    return report.summary_message(figs, heading)


@dataclass
class DailySummary:
    """The `summary` scheduler job; `run()` is safe to call any time and as often as liked."""

    store: Store
    poster: SlackPoster
    at: time
    zone: ZoneInfo
    now_ms: Callable[[], int]

    def run(self) -> list[str]:
        """Posts the summaries that are due; the channels posted to."""
        now = self.now_ms()
        day, scheduled = due(now, self.at, self.zone)
        self._settle_in_doubt(now, day)
        newest = self._newest_days()
        posted = []
        for sub in self.store.subscriptions():
            if sub.broken or sub.created_at_ms > scheduled:
                continue  # subscribed after today's summary time: its first one is tomorrow
            last = newest.get(sub.channel_id)
            missed = self._missed(day, sub.created_at_ms, last)
            on_time = now - scheduled < LATE_LIMIT_MS
            if not missed:
                continue  # today's is done (or claimed) already
            if last is None and not on_time:
                self._skip(sub.channel_id, day, now, scheduled)  # a first summary: nothing missed
                continue
            catching_up = [] if on_time and missed == [day] else missed
            if self._post(sub.channel_id, day, now, catching_up):
                posted.append(sub.channel_id)
        log.debug("summary ran for %s: posted in %d channel(s)", day, len(posted))
        return posted

    def _newest_days(self) -> dict[str, str]:
        """Each channel's newest day with a summary record (posted, skipped or in doubt)."""
        return {record.channel_id: record.day for record in self.store.summaries()}

    def _missed(self, day: str, subscribed_ms: int, last: str | None) -> list[str]:
        """The days up to `day` whose summary the channel has not had, oldest first: those
        after its newest record (`last`; None: only `day`), at most CATCH_UP_DAYS, none before
        its subscription."""
        days: list[str] = []
        for back in range(CATCH_UP_DAYS if last is not None else 1):
            when = date.fromisoformat(day) - timedelta(days=back)
            if (last is not None and when.isoformat() <= last) or (
                _instant(when, self.at, self.zone) < subscribed_ms
            ):
                break
            days.append(when.isoformat())
        return days[::-1]

    def _post(self, channel: str, day: str, now: int, missed: list[str]) -> bool:
        """Posts the channel's summary for `day`: the daily one, or (`missed` given) one
        catching up on those days, over as many days' figures."""
        if not self.store.reserve_summary(SummaryRecord(channel, day, SUMMARY_RESERVED, now)):
            return False  # posted, skipped, or in doubt already
        heading, window = f"Daily summary — {day}", DAY_MS
        if missed:
            heading = f"Catch-up summary for {', '.join(missed)} (clipbot was not running)"
            # Since the summary time before the first missed day (the last one due before the
            # bot went down), in whole hours.
            since = _instant(date.fromisoformat(missed[0]), self.at, self.zone) - DAY_MS
            window = -(-(now - since) // HOUR_MS) * HOUR_MS
            log.info("summary in %s catches up on %d day(s) to %s", channel, len(missed), day)
        message = channel_report(self.store, channel, now, window, heading)
        try:
            sent = self.poster.post(channel, message, report.summary_metadata(day))
        except ChannelBroken as exc:
            self.store.release_summary(channel, day)
            self.store.mark_broken(channel, exc.reason)
            log.warning("channel %s is broken (%s): no summary", channel, exc.reason)
            return False
        except SlackApiError as exc:
            # Slack answered with an error, so nothing was posted: try again next run.
            self.store.release_summary(channel, day)
            log.error("summary for %s failed: %s; will retry", channel, slack_error(exc))
            return False
        except (SlackClientError, OSError) as exc:
            log.error("summary for %s in doubt (%s); will check", channel, slack_error(exc))
            return False
        self.store.settle_summary(channel, day, SUMMARY_POSTED, sent.ts)
        log.info("daily summary for %s posted in %s", day, channel)
        return True

    def _skip(self, channel: str, day: str, now: int, scheduled: int) -> None:
        if self.store.reserve_summary(SummaryRecord(channel, day, SUMMARY_SKIPPED, now)):
            log.warning(
                "daily summary for %s in %s skipped: %d min late (the bot was not running)",
                day,
                channel,
                (now - scheduled) // 60_000,
            )

    def _settle_in_doubt(self, now: int, today: str) -> None:
        """Summaries whose posting was interrupted: found in history, or released to retry."""
        posted = self.store.summaries(SUMMARY_POSTED)
        for record in self.store.summaries(SUMMARY_RESERVED):
            if now - record.at_ms < IN_FLIGHT_MS:
                continue
            # By Slack's own clock: the summary in doubt came after the channel's last one.
            oldest = max(
                (p.ts or "0" for p in posted if p.channel_id == record.channel_id),
                key=float,
                default=None,
            )
            try:
                found = next(
                    (
                        m["ts"]
                        for m in self.poster.history(record.channel_id, oldest)
                        if report.summary_day(m) == record.day
                    ),
                    None,
                )
            except SlackApiError as exc:
                # Slack answered (no history scope, say): post again rather than risk a loss.
                log.warning(
                    "cannot check %s for a summary: %s", record.channel_id, slack_error(exc)
                )
                found = None
            except (SlackClientError, OSError) as exc:
                log.warning(
                    "cannot reach Slack to check %s: %s", record.channel_id, slack_error(exc)
                )
                continue
            self._settle(record, found, today)

    def _settle(self, record: SummaryRecord, ts: str | None, today: str) -> None:
        if ts is not None:
            self.store.settle_summary(record.channel_id, record.day, SUMMARY_POSTED, str(ts))
        elif record.day == today:
            self.store.release_summary(record.channel_id, record.day)  # posted again if in time
        else:
            self.store.settle_summary(record.channel_id, record.day, SUMMARY_SKIPPED, None)
            log.warning("daily summary for %s in %s was not posted", record.day, record.channel_id)
