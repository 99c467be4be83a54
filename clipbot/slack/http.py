"""Slack over HTTP: Bolt's WSGI adapter behind a guard that refuses oversized bodies unread.

Bolt answers Slack's `ssl_check` and `url_verification` itself and checks every signature; the
guard keeps a huge (or lying) request from being read into memory and parsed at all, and turns
a body Bolt cannot parse into a 400 instead of a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

log = logging.getLogger(__name__)

# Slack's largest payloads (a modal's view state, a message with 50 blocks) stay far below this.
MAX_BODY_BYTES = 1 << 20


def slack_wsgi(app: App, max_body_bytes: int = MAX_BODY_BYTES) -> WSGIApplication:
    """The WSGI app serving `app` at /slack/events; bodies over `max_body_bytes` get 413."""
    bolt = SlackRequestHandler(app)

    def serve(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raw = str(environ.get("CONTENT_LENGTH") or "0").strip()
        length = int(raw) if raw.isdigit() else None
        if length is None or length > max_body_bytes:
            status = "400 Bad Request" if length is None else "413 Content Too Large"
            log.warning("refused an HTTP request before reading it: %s (%s bytes)", status, raw)
            return _plain(start_response, status)
        try:
            return bolt(environ, start_response)
        except ValueError:
            # Bolt parses the body before it checks the signature: malformed JSON or form
            # data from anyone would otherwise be a traceback and a 500.
            log.warning("refused an HTTP request whose body is not Slack's JSON or form data")
            return _plain(start_response, "400 Bad Request")

    return serve


def _plain(start_response: StartResponse, status: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [status.encode() + b"\n"]
