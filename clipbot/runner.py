"""Starting and stopping the bot: the Slack app, the poller and the reminder job."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import health, jobs, triage, wiring, wsgi
from clipbot.cli import slack_credentials_problem
from clipbot.config import ConfigError, Settings
from clipbot.leader import Leadership
from clipbot.metrics import Metrics
from clipbot.notify import SlackPoster
from clipbot.poller import Poller
from clipbot.rhombus import RhombusAuthError, RhombusClient, RhombusError, poll_budget_note
from clipbot.slack.app import Deps, build_app
from clipbot.slack.http import slack_wsgi
from clipbot.stopping import LISTENERS, Busy, ListenerPool, Stop, Stopped, abandon
from clipbot.store import Store, StoreOpenError, open_store
from clipbot.summary import DailySummary
from clipbot.video import VideoDesk

log = logging.getLogger(__name__)

SUMMARY_EVERY_S = 30  # how often the summary job looks whether a summary is due


@dataclass
class Parts:
    """The running pieces, built from Settings."""

    settings: Settings
    store: Store
    rhombus: RhombusClient
    poster: SlackPoster
    poller: Poller
    metrics: Metrics
    videos: VideoDesk | None
    leadership: Leadership

    def close(self) -> None:
        self.rhombus.close()
        self.store.close()


def build_parts(settings: Settings, stop: Stop | None = None) -> Parts:
    """Store, clients and poller for `settings`; ConfigError for an unusable database URL.
    With `stop`, every wait wakes on it and Rhombus calls in flight are cut by it."""
    try:
        store = open_store(settings.database_url, owner=True)
    except StoreOpenError as exc:
        raise ConfigError([f"CLIPBOT_DATABASE_URL: {exc}"]) from None
    # The lease lasts one poll interval, so a dead leader is replaced within two.
    leadership = Leadership(store, lease_s=settings.poll_seconds)
    metrics = Metrics(
        store.position,
        is_leader=lambda: leadership.is_leader,
        skipped_records=lambda: rhombus.skipped_records,
    )
    rhombus = wiring.rhombus_client(settings, stop=stop, on_error=metrics.rhombus_error)
    slack = wiring.slack_client(settings, stop=stop, on_error=metrics.slack_error)
    poster = SlackPoster(slack, sleep=stop.wait if stop else time.sleep)
    videos = wiring.video_desk(settings, store, rhombus, poster)
    poller = Poller(
        store,
        rhombus,
        poster,
        console_url=settings.rhombus_console_url,
        digest_threshold=settings.digest_threshold,
        access=settings.access,
        video_max_bytes=videos.max_bytes if videos else 0,
        zone=settings.timezone,
    )
    poller.leading = lambda: leadership.is_leader
    return Parts(settings, store, rhombus, poster, poller, metrics, videos, leadership)


def _parts_or_report(settings: Settings, stop: Stop | None = None) -> Parts | None:
    """The parts, or None after saying which setting makes them impossible."""
    try:
        return build_parts(settings, stop)
    except ConfigError as exc:
        print(f"clipbot: {exc}", file=sys.stderr)
        return None


def poll_once_command(settings: Settings, *, dry_run: bool) -> int:
    """`clipbot poll --once [--dry-run]`."""
    parts = _parts_or_report(settings)
    if parts is None:
        return 2
    try:
        if not dry_run and not parts.leadership.renew():
            # Another replica polls; a cycle here would only race it.
            print("clipbot: another clipbot replica holds the lease and polls", file=sys.stderr)
            return 1
        result = parts.poller.poll_once(dry_run=dry_run)
    except RhombusError as exc:
        print(f"clipbot: {exc}", file=sys.stderr)
        return 1
    finally:
        parts.leadership.resign()
        parts.close()
    if dry_run:
        print("\n".join(result.planned) or "Nothing to post.")
        return 0
    print(
        f"posted {result.posted} clip(s) ({result.digests} digest(s)), "
        f"updated {result.updated} card(s)"
    )
    for channel in result.broken:
        print(f"channel {channel} is broken and was skipped", file=sys.stderr)
    for failure in result.failed:
        print(failure, file=sys.stderr)
    return 1 if result.failed else 0


def run_bot(settings: Settings, stop: Stop | None = None) -> int:
    """`clipbot run`: serves Slack and polls until SIGTERM/SIGINT (or `stop` is set), then
    stops within the grace (see clipbot.stopping)."""
    stop = stop or _stop_on_signals()
    stop.install_urllib_opener()  # Slack calls in flight are cut by the stop too
    done = threading.Event()
    stop.watchdog(done)
    try:
        return _run(settings, stop)
    finally:
        done.set()


def _run(settings: Settings, stop: Stop) -> int:
    parts = _parts_or_report(settings, stop)
    if parts is None:
        return 2
    try:
        problem = _credentials_problem(parts)
        if problem:
            print(f"clipbot: {problem}", file=sys.stderr)
            return 1
        return _serve(parts, stop)
    except Stopped:
        log.info("stopped while starting")
        return 0
    finally:
        parts.close()


def _credentials_problem(parts: Parts) -> str | None:
    try:
        parts.poster.check_token()
    except SlackApiError as exc:
        return slack_credentials_problem(exc)
    except (SlackClientError, OSError) as exc:
        log.warning("slack auth.test failed (%s); starting anyway", type(exc).__name__)
    try:
        parts.rhombus.call("event/getSavedClipsV2", {"maxPageSize": 1})
    except RhombusAuthError as exc:
        return str(exc)
    except RhombusError as exc:
        # Rhombus being down is not a configuration problem: start, and keep polling.
        log.warning("rhombus is not answering yet: %s", exc)
    return None


def _serve(parts: Parts, stop: Stop) -> int:
    settings = parts.settings
    parts.store.record_start(int(time.time() * 1000))  # healthy while the first poll is due
    if note := poll_budget_note(settings.poll_seconds):
        log.warning(note)
    deps = Deps(
        store=parts.store,
        rhombus=parts.rhombus,
        poster=parts.poster,
        console_url=settings.rhombus_console_url,
        admins=settings.admins,
        poll_seconds=settings.poll_seconds,
        share_hours=settings.share_hours,
        share=settings.share,
        zone=settings.timezone,
        videos=parts.videos,
        replica=lambda: parts.leadership.role,
        metrics=parts.metrics,
    )
    busy = Busy()
    listeners = ListenerPool(busy)
    secret = settings.slack_signing_secret.reveal()
    app = build_app(deps, parts.poster.client, secret, listener_executor=listeners)
    _warn_flagged(parts)
    scheduler = jobs.scheduler(_jobs(parts), busy)
    # A new leader does the leader's work at once rather than at the jobs' next slots.
    leader_jobs = [name for name in ("poll", "remind", "summary") if scheduler.get_job(name)]
    parts.leadership.on_elected = lambda: jobs.run_now(scheduler, leader_jobs)
    slack_up: list[Callable[[], bool]] = [lambda: False]
    try:
        close_health = _serve_health(parts, lambda: slack_up[0]())
    except OSError as exc:
        problem = f"port {settings.metrics_port} cannot be served ({exc.strerror})"
        print(f"clipbot: CLIPBOT_METRICS_PORT: {problem}", file=sys.stderr)
        return 2
    try:
        close, slack_up[0] = _start_slack(app, settings)
    except SlackApiError as exc:
        print(f"clipbot: {slack_credentials_problem(exc)}", file=sys.stderr)
        return 1
    except (SlackClientError, OSError) as exc:
        print(f"clipbot: could not connect to Slack ({type(exc).__name__})", file=sys.stderr)
        return 1
    scheduler.start()
    log.info("clipbot is running (%s)", "socket mode" if settings.socket_mode else "http mode")
    stop.wait()
    log.info("stopping")
    parts.poller.stopping.set()
    if parts.videos:
        parts.videos.stopping.set()  # downloads stop at their next chunk
    close()  # no new Slack requests
    scheduler.shutdown(wait=False)  # no new runs
    listeners.shutdown(wait=False)
    if not busy.wait_idle(stop.remaining()):
        # The store and clients stay open for what still runs; the process ends here.
        abandon(f"stopping took longer than {stop.grace_s:g}s")
    parts.leadership.resign()  # another replica takes over at once
    close_health()
    log.info("stopped")
    return 0


def _warn_flagged(parts: Parts) -> None:
    """Says once, at start, which `private:yes` subscriptions no admin made (see clipbot.access)."""
    for sub in parts.store.subscriptions():
        if parts.settings.access.flagged(sub):
            log.warning(
                "subscription of %s: private:yes was set by %s, who is not in CLIPBOT_ADMINS;"
                " its private clips are held back until an admin subscribes it again",
                sub.channel_id,
                sub.created_by,
            )


def _jobs(parts: Parts) -> dict[str, jobs.Every]:
    """The background jobs: the lease on every replica; the rest only on the leader."""
    settings, only = parts.settings, parts.leadership.only
    poll = lambda: _poll(parts.poller, parts.metrics)  # noqa: E731
    named = {
        "lease": jobs.Every(parts.leadership.renew, parts.leadership.renew_every_s, True),
        "poll": jobs.Every(only(poll), settings.poll_seconds, True),
    }
    if settings.remind_minutes > 0:
        named["remind"] = jobs.Every(
            only(
                lambda: triage.remind_unclaimed(
                    parts.store,
                    parts.poster,
                    minutes=settings.remind_minutes,
                    now_ms=lambda: int(time.time() * 1000),
                )
            ),
            settings.poll_seconds,  # so a reminder is at most one poll interval late
        )
    if settings.summary_at is not None:
        daily = DailySummary(
            parts.store,
            parts.poster,
            at=settings.summary_at,
            zone=settings.timezone,
            now_ms=lambda: int(time.time() * 1000),
        )
        # at_once: a bot started less than an hour late posts at once
        named["summary"] = jobs.Every(only(daily.run), SUMMARY_EVERY_S, at_once=True)
    return named


def _poll(poller: Poller, metrics: Metrics) -> None:
    with metrics.cycle() as done:
        result = poller.poll_once()
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


def _start_slack(app: App, settings: Settings) -> tuple[Callable[[], None], Callable[[], bool]]:
    """Connects to Slack; the function that disconnects, and the one saying whether Slack is
    connected (always, in HTTP mode, once the port is served)."""
    if settings.http_port is None:
        # Envelopes handled at once (the gate before each acknowledgement: a store write, a
        # users.info lookup), as many as the listeners that acknowledge them.
        handler = SocketModeHandler(app, settings.slack_app_token.reveal(), concurrency=LISTENERS)
        handler.connect()  # type: ignore[no-untyped-call]  # slack_bolt leaves it untyped
        return handler.close, handler.client.is_connected
    return wsgi.serve(slack_wsgi(app), settings.http_port, "http"), lambda: True


def _serve_health(parts: Parts, slack_connected: Callable[[], bool]) -> Callable[[], None]:
    port = parts.settings.metrics_port
    if port is None:
        return lambda: None
    readiness = health.readiness(slack_connected, parts.store.position)
    return health.serve(port, parts.metrics, readiness)


def _stop_on_signals() -> Stop:
    stop = Stop()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop
