"""Starting and stopping the bot: the Slack app, the poller and the reminder job."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import triage, wiring
from clipbot.cli import slack_credentials_problem
from clipbot.config import ConfigError, Settings
from clipbot.notify import SlackPoster, slack_error
from clipbot.poller import Poller
from clipbot.rhombus import RhombusAuthError, RhombusClient, RhombusError
from clipbot.slack.app import Deps, build_app
from clipbot.store import SqliteStore, open_store
from clipbot.summary import DailySummary

log = logging.getLogger(__name__)

REMIND_EVERY_S = 60
SUMMARY_EVERY_S = 30  # how often the summary job looks whether a summary is due


@dataclass
class Parts:
    """The running pieces, built from Settings."""

    settings: Settings
    store: SqliteStore
    rhombus: RhombusClient
    poster: SlackPoster
    poller: Poller

    def close(self) -> None:
        self.rhombus.close()
        self.store.close()


def build_parts(settings: Settings) -> Parts:
    """Store, clients and poller for `settings`; ConfigError for an unusable database URL."""
    store = open_store(settings.database_url)
    rhombus = wiring.rhombus_client(settings)
    poster = SlackPoster(wiring.slack_client(settings))
    poller = Poller(
        store,
        rhombus,
        poster,
        console_url=settings.rhombus_console_url,
        digest_threshold=settings.digest_threshold,
        access=settings.access,
    )
    return Parts(settings, store, rhombus, poster, poller)


def _parts_or_report(settings: Settings) -> Parts | None:
    """The parts, or None after saying which setting makes them impossible."""
    try:
        return build_parts(settings)
    except ConfigError as exc:
        print(f"clipbot: {exc}", file=sys.stderr)
        return None


def poll_once_command(settings: Settings, *, dry_run: bool) -> int:
    """`clipbot poll --once [--dry-run]`."""
    parts = _parts_or_report(settings)
    if parts is None:
        return 2
    try:
        result = parts.poller.poll_once(dry_run=dry_run)
    except RhombusError as exc:
        print(f"clipbot: {exc}", file=sys.stderr)
        return 1
    finally:
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


def run_bot(settings: Settings, stop: threading.Event | None = None) -> int:
    """`clipbot run`: serves Slack and polls until SIGTERM/SIGINT (or `stop` is set)."""
    parts = _parts_or_report(settings)
    if parts is None:
        return 2
    try:
        problem = _credentials_problem(parts)
        if problem:
            print(f"clipbot: {problem}", file=sys.stderr)
            return 1
        stop = stop or _stop_on_signals()
        return _serve(parts, stop)
    finally:
        parts.close()


def _credentials_problem(parts: Parts) -> str | None:
    try:
        parts.poster.client.auth_test()
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


def _serve(parts: Parts, stop: threading.Event) -> int:
    settings = parts.settings
    deps = Deps(
        store=parts.store,
        rhombus=parts.rhombus,
        poster=parts.poster,
        console_url=settings.rhombus_console_url,
        admins=settings.admins,
        poll_seconds=settings.poll_seconds,
        share_hours=settings.share_hours,
        share=settings.share,
    )
    app = build_app(deps, parts.poster.client, settings.slack_signing_secret.reveal())
    _warn_flagged(parts)
    scheduler = _scheduler(parts)
    try:
        close = _start_slack(app, settings)
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
    close()
    scheduler.shutdown(wait=True)
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


def _scheduler(parts: Parts) -> BackgroundScheduler:
    settings = parts.settings
    scheduler = BackgroundScheduler()
    scheduler.add_job(
        _guarded("poll", lambda: _poll(parts.poller)),
        "interval",
        seconds=settings.poll_seconds,
        id="poll",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=settings.poll_seconds,
        next_run_time=_now(),
    )
    if settings.remind_minutes > 0:
        scheduler.add_job(
            _guarded(
                "remind",
                lambda: triage.remind_unclaimed(
                    parts.store,
                    parts.poster,
                    minutes=settings.remind_minutes,
                    now_ms=lambda: int(time.time() * 1000),
                ),
            ),
            "interval",
            seconds=REMIND_EVERY_S,
            id="remind",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=REMIND_EVERY_S,
        )
    if settings.summary_at is not None:
        daily = DailySummary(
            parts.store,
            parts.poster,
            at=settings.summary_at,
            zone=settings.timezone,
            now_ms=lambda: int(time.time() * 1000),
        )
        scheduler.add_job(
            _guarded("summary", daily.run),
            "interval",
            seconds=SUMMARY_EVERY_S,
            id="summary",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=SUMMARY_EVERY_S,
            next_run_time=_now(),  # a bot started less than an hour late posts at once
        )
    return scheduler


def _poll(poller: Poller) -> None:
    result = poller.poll_once()
    if result.posted or result.updated or result.broken or result.failed:
        log.info(
            "poll posted=%d digests=%d updated=%d broken=%d failed=%d",
            result.posted,
            result.digests,
            result.updated,
            len(result.broken),
            len(result.failed),
        )


def _guarded(name: str, job: Callable[[], object]) -> Callable[[], None]:
    """A job that logs its failure in one line and lets the next run try again."""

    def run() -> None:
        try:
            job()
        except RhombusError as exc:
            log.error("%s failed: %s", name, exc)
        except (SlackApiError, SlackClientError) as exc:
            log.error("%s failed: slack %s", name, slack_error(exc))
        except Exception:
            log.exception("%s failed unexpectedly", name)

    return run


def _start_slack(app: App, settings: Settings) -> Callable[[], None]:
    """Connects to Slack; the function that disconnects."""
    if settings.http_port is None:
        handler = SocketModeHandler(app, settings.slack_app_token.reveal())
        handler.connect()  # type: ignore[no-untyped-call]  # slack_bolt leaves it untyped
        return handler.close
    server = make_server(
        "0.0.0.0",
        settings.http_port,
        SlackRequestHandler(app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()

    def close() -> None:
        server.shutdown()
        server.server_close()

    return close


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        log.debug("http %s", format % args)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def _now() -> object:
    from datetime import datetime

    return datetime.now().astimezone()
