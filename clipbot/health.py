"""Health for supervisors: `clipbot healthcheck`, and the `/healthz`, `/readyz` and
`/metrics` endpoints.

The endpoints are served on `CLIPBOT_METRICS_PORT`, a port of their own (never the Slack port of
HTTP mode, so no path can clash and the Slack port can stay private to Slack's proxy). No answer
carries a secret.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client import make_wsgi_app

from clipbot import blocks, schema, wsgi
from clipbot.config import ConfigError, Settings
from clipbot.metrics import Metrics
from clipbot.store import Store, StoreError, StoreOpenError, StoreUnavailable, open_store

# Why the bot is not ready, or None when it is.
Readiness = Callable[[], str | None]

KEEP_UP_INTERVALS = 3  # healthy: a successful poll within this many poll intervals
# /readyz and /metrics wait no longer than this for the database: a probe's timeout is short
# (Kubernetes: 1 s by default), and the pool's own wait for a connection is 5 s.
QUICK_WAIT_S = 1.0


def unhealthy(
    last_success_ms: int | None,
    last_error: str | None,
    started_at_ms: int | None,
    *,
    poll_seconds: int,
    now_ms: int,
    last_progress_ms: int | None = None,
) -> str | None:
    """Why the poller is not keeping up, in one line; None when it is: a successful poll within
    the last 3 poll intervals, a cycle still running that delivered a card within them
    (`last_progress_ms`: a backlog draining at Slack's pace), or a start less than that ago.
    Times are epoch ms."""
    window_ms = KEEP_UP_INTERVALS * poll_seconds * 1000
    if any(
        at is not None and now_ms - at <= window_ms for at in (last_success_ms, last_progress_ms)
    ):
        return None
    if started_at_ms is None:
        return "clipbot run has never started on this database"
    if now_ms - started_at_ms <= window_ms:
        return None
    if last_success_ms is None or last_success_ms < started_at_ms:
        why = f"no successful poll since clipbot started {_age(now_ms - started_at_ms)} ago"
    else:
        why = f"the last successful poll was {_age(now_ms - last_success_ms)} ago"
    why += f" (polls are due every {poll_seconds}s)"
    if last_error:
        why += f"; last error: {' '.join(last_error.split())[:300]}"
    return why


def app(metrics: Metrics, readiness: Readiness) -> Callable[..., Iterable[bytes]]:
    """The WSGI app: `GET /healthz` 200 while the process runs; `GET /readyz` 200 when
    `readiness()` finds nothing wrong, else 503 saying what; `GET /metrics` Prometheus text."""
    exposition = make_wsgi_app(metrics.registry)

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return exposition(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            return _text(start_response, "200 OK", "ok")
        if path == "/readyz":
            problem = readiness()
            if problem:
                return _text(start_response, "503 Service Unavailable", f"not ready: {problem}")
            return _text(start_response, "200 OK", "ready")
        return _text(start_response, "404 Not Found", "not found: try /healthz, /readyz, /metrics")

    return serve


def read_health(settings: Settings, *, now_ms: int) -> int:
    """`clipbot healthcheck`: prints one line and returns 0 healthy, 1 not, 2 when the database
    cannot be opened. Reads the store only; a missing SQLite file is not created."""
    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        print(f"unhealthy: no database at {url}: clipbot run has never started there")
        return 1
    try:
        store = open_store(url, migrate=False)
    except StoreOpenError as exc:
        print(f"clipbot: {ConfigError([f'CLIPBOT_DATABASE_URL: {exc}'])}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"unhealthy: the database does not answer ({exc})")
        return 1
    try:
        problem = _unready_schema(store.schema_version) or _behind(store, settings, now_ms)
    except StoreError as exc:
        problem = f"the store does not answer ({exc})"
    finally:
        store.close()
    print(f"unhealthy: {problem}" if problem else "healthy")
    return 1 if problem else 0


def _behind(store: Store, settings: Settings, now_ms: int) -> str | None:
    """Why the poller recorded in `store` is not keeping up (see `unhealthy`), if it is not."""
    record = store.health(now_ms)  # (clips posted since now: none to count)
    return unhealthy(
        record.last_success_ms,
        record.last_error,
        store.started_at(),
        poll_seconds=settings.poll_seconds,
        now_ms=now_ms,
        last_progress_ms=record.last_progress_ms,
    )


def _unready_schema(version: int) -> str | None:
    """Why a database whose schema is at `version` has no health record to read yet, if so."""
    if version == 0:
        return "the database has no clipbot tables: clipbot run has never started there"
    if version < len(schema.MIGRATIONS):
        return (
            f"the database's schema is at version {version} of {len(schema.MIGRATIONS)}:"
            " this release's clipbot run has not started there yet"
        )
    return None


def readiness(slack_connected: Callable[[], bool], store_ping: Callable[[], object]) -> Readiness:
    """Ready: Slack is connected and a read of the store (`store_ping()`) answers."""

    def problem() -> str | None:
        if not slack_connected():
            return "Slack is not connected"
        try:
            store_ping()
        except Exception as exc:  # whatever the backend raises, the store does not answer
            return f"the store does not answer ({type(exc).__name__})"
        return None

    return problem


def quick_position(store: Store, known_down: Callable[[], bool]) -> Callable[[], int | None]:
    """The feed position (epoch ms) as /readyz and /metrics read it, in time for a probe: while
    the database is `known_down()` (the lease could not be renewed) StoreUnavailable at once,
    without asking it; otherwise a read that waits at most QUICK_WAIT_S for a connection."""

    def read() -> int | None:
        if known_down():
            raise StoreUnavailable("the database is unavailable (the lease could not be renewed)")
        return store.position(wait_s=QUICK_WAIT_S)

    return read


def serve(port: int, metrics: Metrics, readiness: Readiness) -> Callable[[], None]:
    """Serves the endpoints on `port` of all interfaces; the function that stops them."""
    return wsgi.serve(app(metrics, readiness), port, "health")


def _text(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    body = (text + "\n").encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _age(ms: int) -> str:
    return f"{max(0, ms) // 1000}s" if ms < 300_000 else blocks.age(ms)
