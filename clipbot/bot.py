"""The one composition root: Settings in, every part of clipbot out, started and closed as one.

`build(settings)` makes, in this order and nowhere else: the one clock, the store, the leader's
lease, the metrics, the Rhombus client, the Slack gateway (SlackPoster over one WebClient), the
video desk, the poller, the listeners' Deps, the Bolt app and the background jobs. `Bot.start()`
connects them to the world (health port, Slack, scheduler); `Bot.close()` stops and releases them.
`clipbot run`, `clipbot poll --once` and the tests all build through `build`; tests pass the
fakes' URLs in the settings and, where they need to, their own clock, `Tuning` or parts.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import duties, health, jobs, wiring, wsgi
from clipbot.config import ConfigError, Settings
from clipbot.inflight import RHOMBUS_LISTENERS, Busy, ListenerPool
from clipbot.leader import Leadership, Role
from clipbot.metrics import Metrics
from clipbot.notify import SlackPoster
from clipbot.poller import Poller
from clipbot.rhombus import RhombusAuthError, RhombusClient, RhombusError, poll_budget_note
from clipbot.slack.ackfirst import Lanes
from clipbot.slack.app import build_app
from clipbot.slack.deps import Deps
from clipbot.slack.gate import Guests
from clipbot.slack.http import slack_wsgi
from clipbot.slack.inhand import AcknowledgingHandler, InHand
from clipbot.slack_errors import slack_credentials_problem
from clipbot.stopping import GRACE_S, Stop, abandon
from clipbot.store import Store, StoreOpenError, StoreUnavailable, open_store
from clipbot.video import MB, VideoDesk

log = logging.getLogger(__name__)

# Socket Mode envelopes dispatched at once. Dispatching only acknowledges (Python work, no I/O:
# the listeners' work goes to the ListenerPool), so more threads would only take turns at the
# interpreter; two keep a rare slow dispatch (Bolt's first auth.test) from holding up the rest.
ACKNOWLEDGERS = 2


class StartFailed(Exception):
    """`Bot.start()` could not connect: the message for the operator and the exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class Tuning:
    """What Settings does not say, for tests and benchmarks: None keeps the part's own value."""

    rhombus_page_size: int | None = None
    rhombus_sleep: Callable[[float], object] | None = None  # backoff waits
    slack_pace_s: float | None = None  # seconds between two posts in one channel
    video_max_bytes: int | None = None  # instead of CLIPBOT_VIDEO_MAX_MB; 0: no Video button


class Bot:
    """Every part of a running clipbot, built from one Settings (see `build`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], int],
        stop: Stop | None,
        store: Store,
        rhombus: RhombusClient | None,
        web: WebClient | None,
        videos: VideoDesk | None,
        leadership: Leadership | None,
        tuning: Tuning,
    ) -> None:
        self.settings, self.clock, self.stop, self.store = settings, clock, stop, store
        # The lease lasts one poll interval, so a dead leader is replaced within two.
        self.leadership = leadership or Leadership(store, lease_s=settings.poll_seconds)
        # Read at each scrape and readiness probe: at once while the lease knows the database away.
        self.quick_position = health.quick_position(
            store, lambda: self.leadership.role is Role.STORE_DOWN
        )
        self.metrics = Metrics(
            self.quick_position,
            is_leader=lambda: self.leadership.is_leader,
            skipped_records=lambda: self.rhombus.skipped_records,
            now=lambda: clock() / 1000,
        )
        self.rhombus = rhombus or wiring.rhombus_client(
            settings,
            stop=stop,
            on_error=self.metrics.rhombus_error,
            now_ms=clock,
            page_size=tuning.rhombus_page_size,
            sleep=tuning.rhombus_sleep,
        )
        rhombus = self.rhombus
        web = web or wiring.slack_client(settings, stop=stop, on_error=self.metrics.slack_error)
        sleep = stop.wait if stop else time.sleep
        pace = wiring.given(pace_seconds=tuning.slack_pace_s)
        self.poster = SlackPoster(web, sleep=sleep, **pace)
        self.videos = videos if videos is not None else self._video_desk(tuning)
        self.poller = Poller(
            store,
            rhombus,
            self.poster,
            console_url=settings.rhombus_console_url,
            digest_threshold=settings.digest_threshold,
            access=settings.access,
            video_max_bytes=self.videos.max_bytes if self.videos else 0,
            zone=settings.timezone,
            now_ms=clock,
        )
        self.poller.leading = lambda: self.leadership.is_leader
        self.deps = Deps(
            store=store,
            rhombus=rhombus,
            poster=self.poster,
            console_url=settings.rhombus_console_url,
            admins=settings.admins,
            poll_seconds=settings.poll_seconds,
            share_hours=settings.share_hours,
            share=settings.share,
            videos=self.videos,
            now_ms=clock,
            guests=Guests(),
            zone=settings.timezone,
            replica=lambda: self.leadership.role,
            metrics=self.metrics,
        )
        self.busy = Busy()
        self.listeners = ListenerPool(self.busy)
        self.rhombus_listeners = ListenerPool(self.busy, RHOMBUS_LISTENERS, "listener-rhombus")
        self.lanes = Lanes(
            self.listeners,
            self.rhombus_listeners,
            stop.too_late_to_start if stop else lambda: False,
            stop.sparing if stop else contextlib.nullcontext,
        )
        secret = settings.slack_signing_secret.reveal()
        self.in_hand = InHand()  # Socket Mode envelopes not yet acknowledged: work waits
        self.app = build_app(self.deps, web, secret, self.lanes, self.in_hand)
        self.scheduler = jobs.scheduler(duties.background_jobs(self), self.busy)
        # A new leader does the leader's work at once rather than at the jobs' next slots.
        leader_jobs = [name for name in duties.LEADER_JOBS if self.scheduler.get_job(name)]
        self.leadership.on_elected = lambda: jobs.run_now(self.scheduler, leader_jobs)
        self._started = self._closed = False
        self._close_health: Callable[[], None] = lambda: None
        self._close_slack: Callable[[], None] = lambda: None

    def _video_desk(self, tuning: Tuning) -> VideoDesk | None:
        """What answers the Video button; None when its size limit is 0 (no button)."""
        limit = self.settings.video_max_mb * MB
        limit = limit if tuning.video_max_bytes is None else tuning.video_max_bytes
        if limit == 0:
            return None
        return VideoDesk(
            self.store,
            self.rhombus,
            self.poster,
            media_url=self.settings.rhombus_media_url,
            console_url=self.settings.rhombus_console_url,
            max_bytes=limit,
            now_ms=self.clock,
            access=self.settings.access,
        )

    def credentials_problem(self) -> str | None:
        """Which credential Slack or Rhombus refuses, in words; None when both are accepted
        (or a service is down, which is not a configuration problem: clipbot starts anyway)."""
        try:
            self.poster.check_token()
        except SlackApiError as exc:
            return slack_credentials_problem(exc)
        except (SlackClientError, OSError) as exc:
            log.warning("slack auth.test failed (%s); starting anyway", type(exc).__name__)
        try:
            self.rhombus.call("event/getSavedClipsV2", {"maxPageSize": 1})
        except RhombusAuthError as exc:
            return str(exc)
        except RhombusError as exc:
            log.warning("rhombus is not answering yet: %s", exc)
        return None

    def start(self) -> None:
        """Serves health, connects to Slack and starts the jobs; StartFailed if it cannot."""
        self._started = True
        self.store.record_start(self.clock())  # healthy while the first poll is due
        if note := poll_budget_note(self.settings.poll_seconds):
            log.warning(note)
        self._warn_flagged()
        slack_up: list[Callable[[], bool]] = [lambda: False]
        self._close_health = self._serve_health(lambda: slack_up[0]())
        self._close_slack = self._connect_slack(slack_up)
        self.scheduler.start()
        mode = "socket mode" if self.settings.socket_mode else "http mode"
        log.info("clipbot is running (%s)", mode)

    def _serve_health(self, slack_connected: Callable[[], bool]) -> Callable[[], None]:
        port = self.settings.metrics_port
        if port is None:
            return lambda: None
        readiness = health.readiness(slack_connected, self.quick_position)
        try:
            return health.serve(port, self.metrics, readiness)
        except OSError as exc:
            problem = f"port {port} cannot be served ({exc.strerror})"
            raise StartFailed(f"CLIPBOT_METRICS_PORT: {problem}", 2) from None

    def _connect_slack(self, slack_up: list[Callable[[], bool]]) -> Callable[[], None]:
        """Socket Mode, or HTTP on CLIPBOT_HTTP_PORT; the function that disconnects."""
        try:
            if self.settings.http_port is None:
                token = self.settings.slack_app_token.reveal()
                handler = AcknowledgingHandler(self.app, token, self.in_hand, ACKNOWLEDGERS)
                handler.connect()  # type: ignore[no-untyped-call]  # slack_bolt leaves it untyped
                slack_up[0] = handler.client.is_connected
                return handler.close
            slack_up[0] = lambda: True
            return wsgi.serve(
                slack_wsgi(self.app, self.settings.slack_signing_secret.reveal()),
                self.settings.http_port,
                "http",
            )
        except SlackApiError as exc:
            raise StartFailed(slack_credentials_problem(exc), 1) from None
        except (SlackClientError, OSError) as exc:
            raise StartFailed(f"could not connect to Slack ({type(exc).__name__})", 1) from None

    def _warn_flagged(self) -> None:
        """Says once, at start, which `private:yes` subscriptions no admin made."""
        for sub in self.store.subscriptions():
            if self.settings.access.flagged(sub):
                log.warning(
                    "subscription of %s: private:yes was set by %s, who is not in CLIPBOT_ADMINS;"
                    " its private clips are held back until an admin subscribes it again",
                    sub.channel_id,
                    sub.created_by,
                )

    def close(self) -> None:
        """Stops what `start` started (Slack first, then the jobs and listeners, waiting for them
        up to the stop's grace), gives up the lease, and closes the clients and the store; once."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            self.poller.stopping.set()
            if self.videos:
                self.videos.stopping.set()  # downloads stop at their next chunk
            self._close_slack()  # no new Slack requests
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)  # no new runs
            # Work acknowledged and still queued runs first (a request arriving now is taken
            # too, while the grace lasts); what has not begun in time is not begun, and its
            # people are told so while Slack can still be reached. The pools are shut once idle.
            if self.stop and not self.busy.wait_idle(self.stop.until_too_late()):
                self.lanes.drain()
            if not self.busy.wait_idle(self.stop.remaining() if self.stop else GRACE_S):
                # The store and clients stay open for what still runs; the process ends here.
                grace = self.stop.grace_s if self.stop else GRACE_S
                abandon(f"stopping took longer than {grace:g}s")
            self.listeners.shutdown(wait=False)
            self.rhombus_listeners.shutdown(wait=False)
            self._close_health()
        self.leadership.resign()  # another replica takes over at once
        self.rhombus.close()
        self.store.close()


def build(
    settings: Settings,
    *,
    stop: Stop | None = None,
    clock: Callable[[], int] | None = None,
    tuning: Tuning = Tuning(),
    store: Store | None = None,
    rhombus: RhombusClient | None = None,
    web: WebClient | None = None,
    videos: VideoDesk | None = None,
    leadership: Leadership | None = None,
) -> Bot:
    """Every part of clipbot for `settings`. With `stop`, every wait wakes on it and Rhombus
    calls in flight are cut by it. `clock` (epoch ms) is the one clock every part reads. Parts
    passed in are used instead of being built (tests share one store between two bots).
    ConfigError when the database cannot be opened; StartFailed (exit 1) when it does not answer."""
    clock = clock or (lambda: int(time.time() * 1000))
    if store is None:
        try:
            store = open_store(settings.database_url, owner=True)
        except StoreOpenError as exc:
            raise ConfigError([f"CLIPBOT_DATABASE_URL: {exc}"]) from None
        except StoreUnavailable as exc:
            raise StartFailed(f"CLIPBOT_DATABASE_URL: {exc}", 1) from None
    return Bot(
        settings,
        clock=clock,
        stop=stop,
        store=store,
        rhombus=rhombus,
        web=web,
        videos=videos,
        leadership=leadership,
        tuning=tuning,
    )
