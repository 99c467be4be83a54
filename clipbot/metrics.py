"""clipbot's Prometheus metrics, in a registry of their own (one per running bot).

Recorded at few points: the poll job reports each cycle (`Metrics.cycle`), the Slack client
reports each failed Web API call (`ObservedWebClient`), the Rhombus client each failed attempt
(its `on_error`); the feed lag is computed when scraped. Label values are bounded: outcomes and
Rhombus failure kinds are fixed sets, and Slack error codes outside `SLACK_ERRORS` count as
`other`. No label carries a secret or anything a user typed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from clipbot.blocks import age
from clipbot.rhombus import RhombusError
from clipbot.slack_errors import slack_error
from clipbot.stopping import Stopped
from clipbot.store.errors import StoreError

OUTCOMES = ("ok", "failed", "error")  # error: a fault of clipbot's own, logged with a traceback
RHOMBUS_KINDS = ("timeout", "connection", "throttled", "server", "auth", "api")
# Slack Web API error codes worth telling apart; "connection" is a call Slack never answered.
SLACK_ERRORS = frozenset(
    {
        "account_inactive",
        "cant_update_message",
        "channel_is_archived",
        "channel_not_found",
        "connection",
        "fatal_error",
        "internal_error",
        "invalid_arguments",
        "invalid_auth",
        "invalid_blocks",
        "is_archived",
        "message_not_found",
        "missing_scope",
        "msg_too_long",
        "not_authed",
        "not_in_channel",
        "ratelimited",
        "request_timeout",
        "restricted_action",
        "service_unavailable",
        "token_revoked",
    }
)
POLL_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """The metrics of one running clipbot; `registry` is what `/metrics` serves."""

    def __init__(
        self,
        newest_read_ms: Callable[[], int | None] = lambda: None,
        *,
        is_leader: Callable[[], bool] = lambda: True,
        skipped_records: Callable[[], int] = lambda: 0,
        now: Callable[[], float] = time.time,
    ) -> None:
        """`newest_read_ms`: the newest createdAtMs read from the feed (epoch ms, None before
        any); `is_leader`: whether this replica polls (SQLite: always); `skipped_records`: odd
        feed records set aside so far. Each is read when scraped; a StoreError from
        `newest_read_ms` leaves the last value read."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "clipbot_polls",
            "Poll cycles finished, by outcome (ok, failed, error)",
            ["outcome"],
            registry=r,
        )
        self.poll_duration = Histogram(
            "clipbot_poll_duration_seconds",
            "How long poll cycles took, in seconds",
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self.clips_posted = Counter(
            "clipbot_clips_posted", "Clips posted to channels (as cards or in digests)", registry=r
        )
        self.slack_errors = Counter(
            "clipbot_slack_errors",
            "Failed Slack Web API calls, by Slack error code (unlisted codes: other)",
            ["error"],
            registry=r,
        )
        self.rhombus_errors = Counter(
            "clipbot_rhombus_errors",
            "Failed Rhombus API attempts, by kind (timeout, connection, throttled, server, auth, "
            "api)",
            ["kind"],
            registry=r,
        )
        self.feed_lag = Gauge(
            "clipbot_feed_lag_seconds",
            "Seconds from the newest createdAtMs read from the clip feed to now (NaN: none yet)",
            registry=r,
        )
        self.leader = Gauge(
            "clipbot_leader", "1 on the replica that polls and sends reminders, else 0", registry=r
        )
        self.skipped = Gauge(
            "clipbot_feed_skipped_records",
            "Odd saved-clip records (no usable uuid or createdAtMs) set aside since start",
            registry=r,
        )
        for outcome in OUTCOMES:
            self.polls.labels(outcome)
        for kind in RHOMBUS_KINDS:
            self.rhombus_errors.labels(kind)
        newest: list[int | None] = [None]

        def feed_lag() -> float:
            # A database that is away must not fail the whole scrape: the lag keeps growing
            # from the newest position read before.
            with suppress(StoreError):
                newest[0] = newest_read_ms()
            return _lag(newest[0], now())

        self.feed_lag.set_function(feed_lag)
        self.leader.set_function(lambda: 1.0 if is_leader() else 0.0)
        self.skipped.set_function(lambda: float(skipped_records()))

    @contextmanager
    def cycle(self) -> Iterator[Callable[[int, bool], None]]:
        """Times one poll cycle; call the yielded `done(posted, failed)` at its end. A cycle
        that raises counts as failed (Rhombus) or error (anything else); one cut short by the
        stop is not counted."""
        started = time.monotonic()
        outcome: str | None = "ok"

        def done(posted: int, failed: bool) -> None:
            nonlocal outcome
            self.clips_posted.inc(posted)
            outcome = "failed" if failed else "ok"

        try:
            yield done
        except Stopped:
            outcome = None
            raise
        except RhombusError:
            outcome = "failed"
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            if outcome is not None:
                self.poll_duration.observe(time.monotonic() - started)
                self.polls.labels(outcome).inc()

    def figures(self) -> Figures:
        """The same facts /metrics shows, for /clips status and the App Home."""
        value = self.registry.get_sample_value
        lag = value("clipbot_feed_lag_seconds")
        return Figures(
            feed_lag_s=None if lag is None or math.isnan(lag) else lag,
            leader=value("clipbot_leader") == 1,
            skipped_records=int(value("clipbot_feed_skipped_records") or 0),
            slack_errors=_by_label(self.slack_errors),
            rhombus_errors=_by_label(self.rhombus_errors),
        )

    def slack_error(self, code: str) -> None:
        self.slack_errors.labels(code if code in SLACK_ERRORS else "other").inc()

    def rhombus_error(self, kind: str) -> None:
        self.rhombus_errors.labels(kind if kind in RHOMBUS_KINDS else "api").inc()


@dataclass(frozen=True, slots=True)
class Figures:
    """A reading of the metrics: feed lag (seconds; None before any clip was read), whether this
    replica polls, odd records skipped, and failures since start by Slack code / Rhombus kind."""

    feed_lag_s: float | None
    leader: bool
    skipped_records: int
    slack_errors: dict[str, int]
    rhombus_errors: dict[str, int]

    def lines(self) -> list[str]:
        """The figures as mrkdwn lines for /clips status and the App Home (which say which
        replica polls, and how many odd records were skipped in all, in lines of their own)."""
        lines = []
        if self.feed_lag_s is not None:
            lines.append(f"Feed lag: {age(int(self.feed_lag_s * 1000))} since the newest clip read")
        for what, counts in (("Slack", self.slack_errors), ("Rhombus", self.rhombus_errors)):
            if counts:
                shown = ", ".join(f"{label} ×{n}" for label, n in sorted(counts.items()))
                lines.append(f"{what} errors since start: {shown}")
        return lines


class ObservedWebClient(WebClient):
    """A WebClient that reports every failed Web API call to `on_error(code)` and re-raises it."""

    def __init__(self, *args: Any, on_error: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_error = on_error

    def api_call(  # the same keyword parameters as WebClient.api_call, passed through
        self, api_method: str, **kwargs: Any
    ) -> SlackResponse:
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            self._on_error(slack_error(exc))
            raise
        except (SlackClientError, OSError):
            self._on_error("connection")
            raise


def _by_label(counter: Counter) -> dict[str, int]:
    """A labelled counter's non-zero values by its one label."""
    return {
        next(iter(sample.labels.values())): int(sample.value)
        for family in counter.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and sample.value
    }


def _lag(newest_ms: int | None, now: float) -> float:
    return math.nan if newest_ms is None else max(0.0, now - newest_ms / 1000)
