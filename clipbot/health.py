"""Health for supervisors: the `/healthz`, `/readyz` and `/metrics` endpoints.

Served on `CLIPBOT_METRICS_PORT`, a port of its own (never the Slack port of HTTP mode, so no
path can clash and the Slack port can stay private to Slack's proxy). No answer carries a secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import make_wsgi_app

from clipbot import wsgi
from clipbot.metrics import Metrics

# Why the bot is not ready, or None when it is.
Readiness = Callable[[], str | None]


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


def serve(port: int, metrics: Metrics, readiness: Readiness) -> Callable[[], None]:
    """Serves the endpoints on `port` of all interfaces; the function that stops them."""
    return wsgi.serve(app(metrics, readiness), port, "health")


def _text(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    body = (text + "\n").encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]
